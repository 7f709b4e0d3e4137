/**
 * The crash test of the whole server: a real `eddy serve` child on a data dir, four concurrent SDK
 * producers (PutRecords and PutRecord, over h2c and HTTP/1.1) recording every acknowledged record,
 * SIGKILL at a random moment under that load, a restart on the same data dir, and a full read of
 * every shard from TRIM_HORIZON: every acknowledged record is there exactly once, in sequence
 * order, with its bytes; nothing else is there but records whose request was cut by the kill; and
 * sequence numbers keep increasing after the restart.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { client, uniqueName } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SHARDS = 4;
const ROUNDS = 3;
const PRODUCERS = 4;

interface Server {
  readonly proc: ChildProcess;
  readonly endpoint: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startServer(dataDir: string): Promise<Server> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EDDY_')) env[k] = v;
  const proc = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--data-dir', dataDir, '--no-throttle', '--state-delay-ms', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`eddy serve did not start within 15 s: ${stderr}`));
    }, 15_000);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`eddy serve exited (code ${code}, signal ${signal}) before listening: ${stderr}`));
    });
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      const m = /^eddy listening on (\S+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      lines.close();
      proc.stdout!.resume();
      resolve({ proc, endpoint: m[1]!, exited });
    });
  });
}

/** A record's bytes: its id, a bar, then a pattern derived from the id (so a torn or mixed-up record shows). */
function recordData(id: string): Buffer {
  const seed = createHash('md5').update(id).digest();
  const pad = seed[0]! % 4 === 0 ? 2_000 + seed.readUInt16BE(1) : seed[1]! % 200;
  const body = Buffer.allocUnsafe(pad);
  for (let i = 0; i < pad; i++) body[i] = (seed[i % 16]! + i * 31) & 0xff;
  return Buffer.concat([Buffer.from(`${id}|`), body]);
}

const idOf = (data: Uint8Array): string => {
  const b = Buffer.from(data);
  return b.subarray(0, b.indexOf(0x7c)).toString();
};

interface Ack {
  readonly shardId: string;
  readonly seq: bigint;
  readonly id: string;
}

interface RoundOutcome {
  readonly acks: Ack[];
  /** Ids of every record sent, acknowledged or not. */
  readonly sent: Set<string>;
  readonly killAfterMs: number;
}

/**
 * Runs the producers against the server until it is SIGKILLed, a random 20 to 400 ms after the
 * first acknowledgement of the round.
 */
async function loadAndKill(server: Server, stream: string, round: number): Promise<RoundOutcome> {
  const acks: Ack[] = [];
  const sent = new Set<string>();
  const unexpected: unknown[] = [];
  let killed = false;
  const killAfterMs = randomInt(20, 400);
  let armed = false;
  const arm = () => {
    if (armed) return;
    armed = true;
    setTimeout(() => {
      killed = true;
      server.proc.kill('SIGKILL');
    }, killAfterMs);
  };
  const clients: KinesisClient[] = [];
  // Should the server never die, stop anyway (and fail below) rather than run forever.
  const deadline = Date.now() + 15_000;
  const producer = async (p: number): Promise<void> => {
    const k = client(server.endpoint, p % 2 === 1);
    clients.push(k);
    for (let n = 0; !killed && Date.now() < deadline; ) {
      try {
        if (randomInt(5) === 0) {
          const id = `${round}.${p}.${n++}`;
          sent.add(id);
          const r = await k.send(new PutRecordCommand({ StreamName: stream, PartitionKey: `pk-${id}`, Data: recordData(id) }));
          acks.push({ shardId: r.ShardId!, seq: BigInt(r.SequenceNumber!), id });
        } else {
          const ids = Array.from({ length: randomInt(1, 120) }, () => `${round}.${p}.${n++}`);
          for (const id of ids) sent.add(id);
          const r = await k.send(new PutRecordsCommand({ StreamName: stream, Records: ids.map((id) => ({ PartitionKey: `pk-${id}`, Data: recordData(id) })) }));
          r.Records!.forEach((e, i) => {
            // Without throttling nothing should fail; a failed entry is simply not acknowledged.
            if (e.SequenceNumber !== undefined) acks.push({ shardId: e.ShardId!, seq: BigInt(e.SequenceNumber), id: ids[i]! });
          });
        }
        arm();
      } catch (e) {
        if (!killed) unexpected.push(e);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
  for (const k of clients) k.destroy();
  if (!killed) server.proc.kill('SIGKILL');
  const { signal } = await server.exited;
  assert.deepEqual(unexpected, [], `round ${round}: producers failed before the kill`);
  assert.ok(killed, `round ${round}: the kill never came`);
  assert.equal(signal, 'SIGKILL');
  return { acks, sent, killAfterMs };
}

/** Reads one shard from TRIM_HORIZON to the end of what is there. */
async function readShard(k: KinesisClient, stream: string, shardId: string): Promise<{ seq: bigint; id: string; data: Buffer; pk: string }[]> {
  const out: { seq: bigint; id: string; data: Buffer; pk: string }[] = [];
  let iterator = (await k.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  for (let calls = 0; iterator; calls++) {
    assert.ok(calls < 2_000, 'reading a shard ends');
    const r = await k.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    for (const rec of r.Records ?? []) {
      const data = Buffer.from(rec.Data!);
      out.push({ seq: BigInt(rec.SequenceNumber!), id: idOf(data), data, pk: rec.PartitionKey! });
    }
    if ((r.Records ?? []).length === 0 && r.MillisBehindLatest === 0) break;
    iterator = r.NextShardIterator;
  }
  return out;
}

describe('the server under kill -9', () => {
  it(`keeps every acknowledged record, once, in order, over ${ROUNDS} kills under concurrent load`, { timeout: 120_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'eddy-server-crash-'));
    const stream = uniqueName('crash');
    const acked = new Map<string, Ack>();
    const sent = new Set<string>();
    /** Highest sequence number seen per shard, to check that numbering goes on upward after each restart. */
    const highest = new Map<string, bigint>();
    let server = await startServer(dataDir);
    try {
      const setup = client(server.endpoint);
      await setup.send(new CreateStreamCommand({ StreamName: stream, ShardCount: SHARDS }));
      setup.destroy();

      for (let round = 1; round <= ROUNDS; round++) {
        const outcome = await loadAndKill(server, stream, round);
        assert.ok(outcome.acks.length > 0, `round ${round}: something was acknowledged`);
        for (const id of outcome.sent) sent.add(id);
        for (const a of outcome.acks) {
          assert.ok(!acked.has(a.id), `${a.id} acknowledged twice`);
          acked.set(a.id, a);
          const before = highest.get(a.shardId);
          // Numbers handed out after a restart are above everything stored before it.
          if (before !== undefined && round > 1) assert.ok(a.seq > before, `round ${round}: ${a.shardId} numbered ${a.seq} after ${before}`);
        }

        server = await startServer(dataDir);
        const k = client(server.endpoint, round % 2 === 0);
        try {
          const summary = (await k.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary!;
          assert.equal(summary.StreamStatus, 'ACTIVE');
          assert.equal(summary.OpenShardCount, SHARDS);
          const seen = new Set<string>();
          let total = 0;
          for (let s = 0; s < SHARDS; s++) {
            const shardId = `shardId-${String(s).padStart(12, '0')}`;
            const records = await readShard(k, stream, shardId);
            total += records.length;
            for (let i = 0; i < records.length; i++) {
              const r = records[i]!;
              if (i > 0) assert.ok(r.seq > records[i - 1]!.seq, `${shardId}: sequence order at ${i}`);
              assert.ok(sent.has(r.id), `${shardId}: record ${r.id} was never sent`);
              assert.ok(!seen.has(r.id), `${shardId}: record ${r.id} is there twice`);
              seen.add(r.id);
              assert.ok(r.data.equals(recordData(r.id)), `${shardId}: bytes of ${r.id}`);
              assert.equal(r.pk, `pk-${r.id}`);
              const a = acked.get(r.id);
              if (a) {
                assert.equal(a.shardId, shardId, `${r.id} is in the shard its acknowledgement named`);
                assert.equal(r.seq, a.seq, `${r.id} has the sequence number its acknowledgement named`);
              }
            }
            const last = records[records.length - 1];
            if (last) highest.set(shardId, last.seq);
          }
          for (const id of acked.keys()) assert.ok(seen.has(id), `acknowledged record ${id} is missing after round ${round}`);
          t.diagnostic(
            `round ${round}: killed ${outcome.killAfterMs} ms after the first ack; ${outcome.acks.length} acknowledged, ` +
              `${outcome.sent.size - outcome.acks.length} in flight at the kill; ${total} stored in all (${total - acked.size} unacknowledged but kept)`,
          );
        } finally {
          k.destroy();
        }
      }

      // After the last restart, every shard takes writes again, numbered above what it holds.
      const k = client(server.endpoint);
      try {
        for (let s = 0; s < SHARDS; s++) {
          const shardId = `shardId-${String(s).padStart(12, '0')}`;
          const start = (((1n << 128n) / BigInt(SHARDS)) * BigInt(s)).toString();
          const r = await k.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'after', ExplicitHashKey: start, Data: Buffer.from('after the crashes') }));
          assert.equal(r.ShardId, shardId);
          const before = highest.get(shardId);
          if (before !== undefined) assert.ok(BigInt(r.SequenceNumber!) > before, `${shardId} numbers upward after the restart`);
        }
      } finally {
        k.destroy();
      }
      server.proc.kill('SIGTERM');
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    } finally {
      if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
