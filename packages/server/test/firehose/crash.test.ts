import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, type FirehoseClient, PutRecordBatchCommand, UpdateDestinationCommand } from '@aws-sdk/client-firehose';
import { decode, firehoseClient, listObjects, ROLE, waitFor } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROUNDS = 3;
const BUCKET = 'crash-bucket';
const STREAM = 'crash-stream';

/** Starts `eddy serve` on a free port; resolves with its endpoint once it listens. */
function serve(dataDir: string): Promise<{ child: ChildProcess; endpoint: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--data-dir', dataDir, '--state-delay-ms', '0', '--no-throttle'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (err += c));
    child.stdout!.on('data', (c: string) => {
      out += c;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ child, endpoint: m[1]! });
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`eddy exited (${code ?? signal}) before listening: ${err}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Every record id found in the delivered objects, with how many times each was seen. */
function delivered(dataDir: string): Map<number, number> {
  const seen = new Map<number, number>();
  for (const o of listObjects(dataDir, BUCKET)) {
    // A torn object would fail to decompress here.
    for (const line of decode(o.key, o.body).toString().split('\n')) {
      if (line === '') continue;
      const id = (JSON.parse(line) as { id: number }).id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  return seen;
}

/** Writes batches from a few concurrent writers until stopped; returns the ids of acknowledged records. */
function writeUntilStopped(fh: FirehoseClient, firstId: number): { stop: () => void; acked: Set<number>; done: Promise<void> } {
  const acked = new Set<number>();
  let next = firstId;
  let stopped = false;
  const pad = 'p'.repeat(900);
  const writer = async () => {
    while (!stopped) {
      const ids = Array.from({ length: 100 }, () => next++);
      try {
        const r = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: STREAM, Records: ids.map((id) => ({ Data: Buffer.from(JSON.stringify({ id, pad })) })) }));
        r.RequestResponses!.forEach((x, i) => {
          if (x.RecordId !== undefined && x.ErrorCode === undefined) acked.add(ids[i]!);
        });
      } catch {
        return; // the server is gone
      }
    }
  };
  const done = Promise.all([writer(), writer(), writer(), writer()]).then(() => undefined);
  return { stop: () => (stopped = true), acked, done };
}

describe('Firehose crash safety', () => {
  it('delivers every acknowledged record after SIGKILL with records buffered', { timeout: 120_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'eddy-fh-crash-'));
    const allAcked = new Set<number>();
    let version = 1;
    try {
      let { child, endpoint } = await serve(dataDir);
      let fh = firehoseClient(endpoint, true);
      await fh.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: STREAM,
          ExtendedS3DestinationConfiguration: {
            RoleARN: ROLE,
            BucketARN: `arn:aws:s3:::${BUCKET}`,
            CompressionFormat: 'GZIP',
            // Objects are sealed at 1 MiB while writing; what is left waits for a long interval.
            BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 900 },
            ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
          },
        }),
      );
      let firstId = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const w = writeUntilStopped(fh, firstId);
        await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 700)));
        await kill(child); // with batches in flight and records buffered
        w.stop();
        await w.done;
        fh.destroy();
        for (const id of w.acked) allAcked.add(id);
        firstId += 10_000_000;
        t.diagnostic(`round ${round}: ${w.acked.size} records acknowledged before SIGKILL, ${listObjects(dataDir, BUCKET).length} objects so far`);
        ({ child, endpoint } = await serve(dataDir));
        fh = firehoseClient(endpoint, true);
      }
      // Ask for the rest now rather than in 900 s: the update seals what was buffered.
      const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: STREAM }))).DeliveryStreamDescription!;
      version = Number(d.VersionId);
      await fh.send(
        new UpdateDestinationCommand({
          DeliveryStreamName: STREAM,
          CurrentDeliveryStreamVersionId: d.VersionId!,
          DestinationId: 'destinationId-000000000001',
          ExtendedS3DestinationUpdate: { BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 } },
        }),
      );
      const seen = await waitFor(
        () => {
          const s = delivered(dataDir);
          for (const id of allAcked) if (!s.has(id)) return undefined;
          return s;
        },
        'every acknowledged record delivered',
        60_000,
      );
      let duplicates = 0;
      for (const n of seen.values()) if (n > 1) duplicates += n - 1;
      const unacked = [...seen.keys()].filter((id) => !allAcked.has(id)).length;
      t.diagnostic(`${allAcked.size} acknowledged, all delivered; ${duplicates} duplicate deliveries; ${unacked} unacknowledged (in flight at the kill) delivered too`);
      assert.ok(allAcked.size > 0, 'some records were acknowledged');
      for (const id of allAcked) assert.ok(seen.has(id), `record ${id} lost`);
      assert.ok(version >= 1);
      fh.destroy();
      await kill(child);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
