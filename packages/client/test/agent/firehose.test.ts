// deliveryStream flows: the PutRecordBatch batcher against a fake Firehose endpoint that fails on
// purpose (through the real SDK, so the JSON contract is the SDK's), and the agent end to end
// against Eddy's Firehose delivering to its local S3 layout.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CreateDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { startAgent } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/config.js';
import { FirehoseSink, sdkFirehosePort } from '../../src/agent/sinks.js';
import { credentials, lines, tally, uniqueName, waitFor, withTempDir } from './helpers.js';

interface Call {
  readonly stream: string;
  readonly records: Buffer[];
}

/** A Firehose that speaks PutRecordBatch (AWS JSON 1.1) and fails as told. */
async function fakeFirehose(behaviour: { failRecord?: (data: string, attempt: number) => boolean; failCall?: (n: number) => boolean }) {
  const calls: Call[] = [];
  const stored: string[] = [];
  const attempts = new Map<string, number>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      if (target !== 'Firehose_20150804.PutRecordBatch') return reply(400, { __type: 'UnknownOperationException', message: String(target) });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { DeliveryStreamName: string; Records: { Data: string }[] };
      const records = body.Records.map((r) => Buffer.from(r.Data, 'base64'));
      calls.push({ stream: body.DeliveryStreamName, records });
      if (behaviour.failCall?.(calls.length) === true) return reply(500, { __type: 'ServiceUnavailableException', message: 'Slow down.' });
      let failed = 0;
      const responses = records.map((r) => {
        const s = r.toString('utf8');
        const n = (attempts.get(s) ?? 0) + 1;
        attempts.set(s, n);
        if (behaviour.failRecord?.(s, n) === true) {
          failed++;
          return { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' };
        }
        stored.push(s);
        return { RecordId: `r-${stored.length}` };
      });
      reply(200, { FailedPutCount: failed, Encrypted: false, RequestResponses: responses });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new FirehoseClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  return {
    endpoint,
    client,
    calls,
    stored,
    close: async () => {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function sink(port: Awaited<ReturnType<typeof sdkFirehosePort>>, o: Partial<ConstructorParameters<typeof FirehoseSink>[0]> = {}) {
  const failures: number[] = [];
  const s = new FirehoseSink({
    deliveryStreamName: 'ds',
    port,
    maxBufferAgeMillis: 50,
    maxBatchRecords: 500,
    maxBatchBytes: 4 * 1024 * 1024,
    maxRecordBytes: 1000 * 1024,
    aggregatedRecordSizeBytes: 0,
    retry: { initialMs: 5, maxMs: 20 },
    events: { onAttemptFailed: (n) => failures.push(n) },
    ...o,
  });
  return { s, failures };
}

describe('Firehose batcher (fake PutRecordBatch endpoint)', () => {
  test('batches hold at most 500 records and 4 MiB; every record is stored once', async () => {
    const f = await fakeFirehose({});
    try {
      const { s } = sink(await sdkFirehosePort(f.client));
      const small = Array.from({ length: 1200 }, (_, i) => `rec-${i}\n`);
      // 12 records of 900 KiB: no more than 4 fit a 4 MiB batch.
      const big = Array.from({ length: 12 }, (_, i) => `${String(i).padStart(4, '0')}${'b'.repeat(900 * 1024)}\n`);
      await Promise.all([...small, ...big].map((r) => s.send(Buffer.from(r), '')));
      await s.close();
      for (const c of f.calls) {
        assert.ok(c.records.length <= 500, `${c.records.length} records in a call`);
        assert.ok(c.records.reduce((n, r) => n + r.length, 0) <= 4 * 1024 * 1024, 'at most 4 MiB in a call');
      }
      assert.ok(f.calls.length >= 5, `${f.calls.length} calls`);
      assert.deepEqual([...tally(f.stored)].filter(([, n]) => n !== 1), []);
      assert.equal(f.stored.length, 1212);
    } finally {
      await f.close();
    }
  });

  test('records that come back with an ErrorCode are retried alone; a failed call is retried whole', async () => {
    const f = await fakeFirehose({
      failRecord: (s, attempt) => attempt <= 2 && Number(s.split('-')[1]) % 7 === 0,
      failCall: (n) => n === 1,
    });
    try {
      // A long buffer age and a flush: the 300 records go in one call however slow the machine is.
      const { s, failures } = sink(await sdkFirehosePort(f.client), { maxBufferAgeMillis: 60_000 });
      const recs = Array.from({ length: 300 }, (_, i) => `rec-${i}`);
      const sent = Promise.all(recs.map((r) => s.send(Buffer.from(r), '')));
      await s.flush();
      await sent;
      assert.deepEqual(f.stored.slice().sort(), recs.slice().sort());
      // Call 1 failed whole (300 records); every 7th record failed twice more on its own.
      const sevenths = recs.filter((_, i) => i % 7 === 0).length;
      assert.deepEqual(failures, [300, sevenths, sevenths]);
      assert.deepEqual(
        f.calls.map((c) => c.records.length),
        [300, 300, sevenths, sevenths],
      );
      await s.close();
    } finally {
      await f.close();
    }
  });

  test('aggregatedRecordSizeBytes packs consecutive records into one Firehose record', async () => {
    const f = await fakeFirehose({});
    try {
      const { s } = sink(await sdkFirehosePort(f.client), { aggregatedRecordSizeBytes: 100 });
      const recs = Array.from({ length: 50 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`); // 9 bytes each
      await Promise.all(recs.map((r) => s.send(Buffer.from(r), '')));
      assert.equal(f.stored.join(''), recs.join(''));
      assert.ok(f.stored.every((r) => r.length <= 100));
      assert.equal(f.stored.length, Math.ceil(50 / 11));
      await s.close();
    } finally {
      await f.close();
    }
  });

  test('flush sends at once; close rejects what was not stored', async () => {
    const f = await fakeFirehose({ failRecord: () => true });
    try {
      const { s } = sink(await sdkFirehosePort(f.client), { maxBufferAgeMillis: 60_000, retry: { initialMs: 60_000, maxMs: 60_000 } });
      const p = s.send(Buffer.from('x\n'), '');
      const flushed = s.flush();
      await waitFor(() => f.calls.length >= 1, 5000, 'the flush to send');
      await s.close();
      await flushed;
      await assert.rejects(p, /the agent is closing/);
      await assert.rejects(s.send(Buffer.from('y'), ''), /the agent is closing/);
    } finally {
      await f.close();
    }
  });

  test('an agent deliveryStream flow through the fake endpoint: every line once, LOGTOJSON applied', async () => {
    const f = await fakeFirehose({ failRecord: (s, attempt) => attempt === 1 && s.includes('"processid":"1') });
    try {
      await withTempDir(async (dir) => {
        const sys = (i: number) => `Mar 12 12:00:${String(i % 60).padStart(2, '0')} host${i % 3} app[${i + 1}]: message number ${i}`;
        // (A pid of 0 would not match: the agent's SYSLOGPROG takes a POSINT.)
        await writeFile(join(dir, 'messages'), `${Array.from({ length: 200 }, (_, i) => sys(i)).join('\n')}\n`);
        const agent = await startAgent({
          config: parseAgentConfig(
            {
              'firehose.endpoint': f.endpoint,
              awsAccessKeyId: credentials.accessKeyId,
              awsSecretAccessKey: credentials.secretAccessKey,
              checkpointFile: 'cp.json',
              flows: [
                {
                  filePattern: 'messages',
                  deliveryStream: 'logs',
                  initialPosition: 'START_OF_FILE',
                  maxBufferAgeMillis: 1000,
                  minTimeBetweenFilePollsMillis: 20,
                  retryInitialBackoffMillis: 5,
                  retryMaxBackoffMillis: 20,
                  dataProcessingOptions: [{ optionName: 'LOGTOJSON', logFormat: 'SYSLOG' }],
                },
              ],
            },
            { baseDir: dir },
          ),
          log: () => undefined,
        });
        try {
          await appendFile(join(dir, 'messages'), `${Array.from({ length: 100 }, (_, i) => sys(200 + i)).join('\n')}\n`);
          await waitFor(() => f.stored.length >= 300, 20_000, '300 records stored');
          const want = Array.from({ length: 300 }, (_, i) => {
            const ts = `Mar 12 12:00:${String(i % 60).padStart(2, '0')}`;
            return `${JSON.stringify({ timestamp: ts, hostname: `host${i % 3}`, program: 'app', processid: String(i + 1), message: `message number ${i}` })}\n`;
          });
          assert.deepEqual(f.stored.slice().sort(), want.sort());
          assert.ok(agent.progress().total.recordSendErrors > 0, 'some records were retried');
          assert.ok(f.calls.every((c) => c.stream === 'logs'));
        } finally {
          await agent.close();
        }
      });
    } finally {
      await f.close();
    }
  });
});

describe("agent to Eddy's Firehose", () => {
  test('a deliveryStream flow lands every line once in the S3 destination', async () => {
    await withTempDir(async (dir) => {
      const url = new URL('../../../../server/dist/src/server.js', import.meta.url).href;
      const { startEddy } = (await import(url)) as { startEddy(o: Record<string, unknown>): Promise<{ endpoint: string; close(): Promise<void> }> };
      const s3Dir = join(dir, 's3');
      const eddy = await startEddy({ port: 0, host: '127.0.0.1', memory: true, s3Dir, stateDelayMs: 0, throttle: false, log: () => undefined });
      const fh = new FirehoseClient({ endpoint: eddy.endpoint, region: 'us-east-1', credentials, maxAttempts: 3 });
      try {
        const name = uniqueName('ds');
        const bucket = uniqueName('bucket');
        await fh.send(
          new CreateDeliveryStreamCommand({
            DeliveryStreamName: name,
            DeliveryStreamType: 'DirectPut',
            ExtendedS3DestinationConfiguration: {
              RoleARN: 'arn:aws:iam::000000000000:role/firehose',
              BucketARN: `arn:aws:s3:::${bucket}`,
              BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
            },
          }),
        );
        const all = lines('fh', 0, 2000);
        await writeFile(join(dir, 'app.log'), `${all.slice(0, 1000).join('\n')}\n`);
        const agent = await startAgent({
          config: parseAgentConfig(
            {
              'firehose.endpoint': eddy.endpoint,
              awsAccessKeyId: credentials.accessKeyId,
              awsSecretAccessKey: credentials.secretAccessKey,
              checkpointFile: 'cp.json',
              flows: [{ filePattern: 'app.log', deliveryStream: name, initialPosition: 'START_OF_FILE', maxBufferAgeMillis: 1000, minTimeBetweenFilePollsMillis: 20 }],
            },
            { baseDir: dir },
          ),
          log: () => undefined,
        });
        const objects = (): string[] => {
          const out: string[] = [];
          const walk = (d: string): void => {
            let es: string[] = [];
            try {
              es = readdirSync(d);
            } catch {
              return;
            }
            for (const e of es) {
              const p = join(d, e);
              if (statSync(p).isDirectory()) {
                if (e !== '.eddy-tmp') walk(p);
              } else out.push(readFileSync(p, 'utf8'));
            }
          };
          walk(join(s3Dir, bucket));
          return out;
        };
        try {
          await appendFile(join(dir, 'app.log'), `${all.slice(1000).join('\n')}\n`);
          let got: string[] = [];
          await waitFor(
            () => {
              got = objects().join('').split('\n').filter((l) => l !== '');
              return got.length >= all.length;
            },
            30_000,
            `${all.length} lines in bucket ${bucket}`,
          );
          assert.deepEqual([...tally(got)].filter(([, n]) => n !== 1), []);
          assert.deepEqual(got.slice().sort(), all.slice().sort());
        } finally {
          await agent.close();
        }
      } finally {
        fh.destroy();
        await eddy.close();
      }
    });
  });
});
