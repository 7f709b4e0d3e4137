// The acceptance test of issue 4: three worker processes consume a 4-shard stream under load; one
// is SIGKILLed mid-stream; a split and a merge happen meanwhile. Every record is processed at least
// once, in order per partition key, duplicates only for shards the dead worker held, and no child
// record before its parents are finished.
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type KinesisClient, MergeShardsCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { createDynamoDbLeaseStore, createPostgresLeaseStore } from '../../src/consumer/index.js';
import { startDynalite } from './helpers/dynalite.js';
import { createStream, kinesisClient, listAllShards, midHashKey, startEddy, uniqueName, waitActive } from './helpers/eddy.js';
import { postgresBin, startPostgres } from './helpers/postgres.js';
import type { LogLine, WorkerConfig } from './helpers/worker.js';

const workerScript = fileURLToPath(new URL('./helpers/worker.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Scenario {
  retrieval: 'polling' | 'fan-out';
  leases: 'dynamodb' | 'postgres';
  keys: number;
  /** Records per key in each PutRecords call. */
  perKey: number;
  /** ms after the workers start: */
  splitAt: number;
  killAt: number;
  mergeAt: number;
  produceFor: number;
  failoverTimeMs: number;
}

interface WorkerLog {
  id: string;
  lines: LogLine[];
}

function readLog(id: string, path: string): WorkerLog {
  if (!existsSync(path)) return { id, lines: [] };
  const lines: LogLine[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    if (!raw) continue;
    try {
      lines.push(JSON.parse(raw) as LogLine);
    } catch {
      // A line cut by SIGKILL.
    }
  }
  return { id, lines };
}

/** Shards a worker holds at the end of its log: taken and not released since. */
function heldAtEnd(log: WorkerLog): Set<string> {
  const held = new Set<string>();
  for (const l of log.lines) {
    if (l.t === 'taken') held.add(l.shard);
    if (l.t === 'lost' || l.t === 'shutdown' || l.t === 'ended') held.delete(l.shard);
  }
  return held;
}

async function scenario(t: TestContext, s: Scenario): Promise<void> {
  const began = Date.now();
  const eddy = await startEddy();
  const k: KinesisClient = kinesisClient(eddy.endpoint);
  const dynalite = s.leases === 'dynamodb' ? await startDynalite() : undefined;
  const postgres = s.leases === 'postgres' ? await startPostgres() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'eddy-acceptance-'));
  const workers = new Map<string, { child: ChildProcess; exited: Promise<void>; log: string }>();
  let producing = true;
  let keep = false;
  try {
    const stream = uniqueName('acc');
    await createStream(k, stream, 4);
    const keys = Array.from({ length: s.keys }, (_, i) => `key${i}`);
    const next = new Map(keys.map((x) => [x, 0]));

    const spawnWorker = (id: string) => {
      const config: WorkerConfig = {
        workerId: id,
        endpoint: eddy.endpoint,
        streamName: stream,
        applicationName: uniqueName('app').slice(0, 60),
        leases: dynalite ? { kind: 'dynamodb', endpoint: dynalite.endpoint } : { kind: 'postgres', connectionString: postgres?.connectionString ?? '' },
        retrieval: s.retrieval,
        failoverTimeMs: s.failoverTimeMs,
        log: join(dir, `${id}.log`),
      };
      return config;
    };
    const app = uniqueName('app');
    for (const id of ['w1', 'w2', 'w3']) {
      const config = { ...spawnWorker(id), applicationName: app };
      const child = fork(workerScript, [JSON.stringify(config)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      workers.set(id, { child, exited, log: config.log });
    }
    const logs = () => [...workers].map(([id, w]) => readLog(id, w.log));
    // Workers load the AWS SDK for a second or more: the clock starts once all three run.
    const readyBy = Date.now() + 30_000;
    while (!logs().every((l) => l.lines.some((x) => x.t === 'ready'))) {
      assert.ok(Date.now() < readyBy, 'workers did not start');
      await sleep(50);
    }
    // The producer: one PutRecords after another, each key's records in order.
    const producer = (async () => {
      while (producing) {
        // Each call carries `perKey` consecutive records of every key, in order.
        const Records = keys.flatMap((x) => Array.from({ length: s.perKey }, (_, i) => ({ PartitionKey: x, Data: Buffer.from(`${x}:${(next.get(x) ?? 0) + i}`) })));
        const r = await k.send(new PutRecordsCommand({ StreamName: stream, Records }));
        assert.equal(r.FailedRecordCount ?? 0, 0, 'PutRecords refused records');
        for (const x of keys) next.set(x, (next.get(x) ?? 0) + s.perKey);
        await sleep(4);
      }
    })();

    const started = Date.now();
    const at = async (ms: number) => sleep(Math.max(0, started + ms - Date.now()));

    await at(s.splitAt);
    const shards = await listAllShards(k, stream);
    await k.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: midHashKey(shards[0]!) }));
    await waitActive(k, stream);

    await at(s.killAt);
    // The victim: the worker holding the most leases now.
    const holding = logs().map((l) => ({ id: l.id, held: heldAtEnd(l) }));
    holding.sort((a, b) => b.held.size - a.held.size);
    const victim = holding[0]!;
    assert.ok(victim.held.size > 0, `no worker holds a lease at the kill: ${JSON.stringify(holding.map((h) => [h.id, [...h.held]]))}`);
    const killedAt = Date.now();
    workers.get(victim.id)!.child.kill('SIGKILL');
    await workers.get(victim.id)!.exited;

    await at(s.mergeAt);
    // Shard 5 (upper half of split shard 0) and shard 1 are adjacent: the child has two parents
    // from two generations.
    await k.send(new MergeShardsCommand({ StreamName: stream, ShardToMerge: 'shardId-000000000005', AdjacentShardToMerge: 'shardId-000000000001' }));
    await waitActive(k, stream);

    await at(s.produceFor);
    producing = false;
    await producer;
    const written = new Map(next);
    const total = [...written.values()].reduce((a, b) => a + b, 0);

    // Wait until every record was processed somewhere.
    const deadline = began + 55_000;
    const missing = () => {
      const seen = new Map(keys.map((x) => [x, new Set<number>()]));
      for (const l of logs()) for (const line of l.lines) if (line.t === 'recs') for (const [x, n] of line.recs) seen.get(x)?.add(n);
      let m = 0;
      for (const [x, c] of written) for (let n = 0; n < c; n++) if (!seen.get(x)?.has(n)) m++;
      return m;
    };
    let left = missing();
    while (left > 0 && Date.now() < deadline) {
      await sleep(250);
      left = missing();
    }
    const drainedAt = Date.now();
    for (const [id, w] of workers) if (id !== victim.id) w.child.kill('SIGTERM');
    await Promise.race([Promise.all([...workers.values()].map((w) => w.exited)), sleep(10_000)]);
    for (const w of workers.values()) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');

    const all = logs();
    const errors = all.flatMap((l) => l.lines.filter((x): x is Extract<LogLine, { t: 'error' }> => x.t === 'error').map((x) => `${l.id} ${x.op} ${x.shard}: ${x.message}`));
    if (left > 0) {
      // Keep the evidence: worker logs and the lease table, in the kept temp dir.
      const store = dynalite
        ? createDynamoDbLeaseStore({ client: dynalite.client(), tableName: app })
        : createPostgresLeaseStore({ connectionString: postgres?.connectionString ?? '', tableName: app });
      writeFileSync(join(dir, 'leases.json'), JSON.stringify(await store.list(), null, 1));
      await store.close();
      keep = true;
    }
    assert.equal(left, 0, `${left} of ${total} records never processed (logs in ${dir}); errors: ${errors.slice(0, 10).join('\n')}`);

    // Every processing of a record, with where, when and by whom.
    interface Proc {
      worker: string;
      shard: string;
      session: string;
      at: number;
      n: number;
      order: number;
    }
    const byKey = new Map<string, Proc[]>();
    let order = 0;
    const deadHeld = heldAtEnd(all.find((l) => l.id === victim.id)!);
    for (const l of all) {
      for (const line of l.lines) {
        if (line.t !== 'recs') continue;
        for (const [x, n] of line.recs) {
          const list = byKey.get(x) ?? [];
          list.push({ worker: l.id, shard: line.shard, session: line.session, at: line.at, n, order: order++ });
          byKey.set(x, list);
        }
      }
    }

    // 1. Order per key within each tenure of a shard: consecutive numbers.
    for (const [x, procs] of byKey) {
      const bySession = new Map<string, Proc[]>();
      for (const p of procs) {
        const list = bySession.get(p.session);
        if (list) list.push(p);
        else bySession.set(p.session, [p]);
      }
      for (const [session, ps] of bySession) {
        for (let i = 1; i < ps.length; i++) {
          assert.equal(ps[i]!.n, ps[i - 1]!.n + 1, `${x} in ${session}: ${ps[i - 1]!.n} then ${ps[i]!.n}`);
        }
      }
      // 2. And across shards: a key's first processings come in the order it was written.
      const first = new Map<number, Proc>();
      for (const p of procs) if (!first.has(p.n) || first.get(p.n)!.at > p.at) first.set(p.n, p);
      for (let n = 1; n < (written.get(x) ?? 0); n++) {
        assert.ok(first.get(n)!.at >= first.get(n - 1)!.at, `${x}: ${n} first processed before ${n - 1}`);
      }
    }

    // 3. Duplicates only for shards the dead worker held, and one copy its own.
    let duplicates = 0;
    const dupShards = new Set<string>();
    for (const [x, procs] of byKey) {
      const byN = new Map<number, Proc[]>();
      for (const p of procs) {
        const list = byN.get(p.n);
        if (list) list.push(p);
        else byN.set(p.n, [p]);
      }
      for (const [n, ps] of byN) {
        if (ps.length === 1) continue;
        duplicates += ps.length - 1;
        for (const p of ps) {
          dupShards.add(p.shard);
          assert.ok(deadHeld.has(p.shard), `${x}:${n} processed ${ps.length} times on ${p.shard}, not a shard of the killed ${victim.id} (${[...deadHeld]})`);
        }
        assert.ok(ps.some((p) => p.worker === victim.id), `${x}:${n} duplicated without the killed worker`);
      }
    }

    // 4. Parents finished before any child record: every parent record, and its 'end' line
    //    (written before SHARD_END is stored), precede the child's first record.
    const lineage = await listAllShards(k, stream);
    const procsByShard = new Map<string, Proc[]>();
    for (const procs of byKey.values()) {
      for (const p of procs) {
        const list = procsByShard.get(p.shard);
        if (list) list.push(p);
        else procsByShard.set(p.shard, [p]);
      }
    }
    const endLines = all.flatMap((l) => l.lines.filter((x): x is Extract<LogLine, { t: 'end' }> => x.t === 'end'));
    let checkedChildren = 0;
    for (const sh of lineage) {
      const parents = [sh.ParentShardId, sh.AdjacentParentShardId].filter((x): x is string => !!x);
      const childProcs = procsByShard.get(sh.ShardId!) ?? [];
      if (parents.length === 0 || childProcs.length === 0) continue;
      checkedChildren++;
      const childFirst = childProcs.reduce((m, p) => Math.min(m, p.at), Infinity);
      for (const p of parents) {
        const parentLast = (procsByShard.get(p) ?? []).reduce((m, x) => Math.max(m, x.at), -Infinity);
        assert.ok(parentLast <= childFirst, `${p} processed at ${parentLast} after child ${sh.ShardId} began at ${childFirst}`);
        const end = endLines.filter((x) => x.shard === p).map((x) => x.at);
        assert.ok(end.length > 0 && Math.min(...end) <= childFirst, `${p} not ended before child ${sh.ShardId} began`);
      }
    }
    assert.equal(checkedChildren, 3, 'children of the split (2) and of the merge (1) processed');
    // (A worker killed between storing SHARD_END and logging 'ended' leaves only its 'end'.)
    for (const closed of ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000005']) {
      assert.ok(endLines.some((x) => x.shard === closed), `${closed} ended`);
    }

    // 5. The dead worker's leases were taken within the failover time.
    let slowest = 0;
    const deadLines = all.find((l) => l.id === victim.id)!.lines;
    for (const shard of deadHeld) {
      // After the dead worker's own take (a live worker may have begun stealing it just before the kill).
      const since = Math.max(...deadLines.filter((x) => x.t === 'taken' && x.shard === shard).map((x) => x.at));
      const taken = all
        .filter((l) => l.id !== victim.id)
        .flatMap((l) => l.lines)
        .filter((x): x is Extract<LogLine, { t: 'taken' }> => x.t === 'taken' && x.shard === shard && x.at >= since);
      // A finished shard (its end written before the kill) needs no new owner.
      if (taken.length === 0 && endLines.some((x) => x.shard === shard)) continue;
      assert.ok(taken.length > 0, `${shard} of the killed worker never taken over`);
      slowest = Math.max(slowest, Math.min(...taken.map((x) => x.at)) - killedAt);
    }
    assert.ok(slowest <= s.failoverTimeMs + 1_000, `took ${slowest} ms to take over the dead worker's leases (failover ${s.failoverTimeMs} ms)`);

    t.diagnostic(
      `${s.retrieval}/${s.leases}: ${total} records written, ${[...byKey.values()].reduce((a, p) => a + p.length, 0)} processed, ` +
        `${duplicates} duplicates on ${[...dupShards].join(',') || 'none'}; killed ${victim.id} holding ${[...deadHeld].join(',')}; ` +
        `takeover ${slowest} ms; drained ${drainedAt - killedAt} ms after the kill; ${errors.length} retried errors${errors.length ? ` (${[...new Set(errors.map((e) => e.replace(/ shardId-\d+/g, '')))].slice(0, 3).join('; ')})` : ''}; ${Date.now() - began} ms in all`,
    );
  } catch (e) {
    keep = true;
    t.diagnostic(`logs kept in ${dir}`);
    throw e;
  } finally {
    producing = false;
    for (const w of workers.values()) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all([...workers.values()].map((w) => w.exited));
    k.destroy();
    await eddy.close();
    await dynalite?.close();
    await postgres?.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

describe('acceptance: 3 workers, one SIGKILLed, a split and a merge during consumption', () => {
  it('polling with DynamoDB (dynalite) leases', { timeout: 90_000 }, (t) =>
    scenario(t, { retrieval: 'polling', leases: 'dynamodb', keys: 40, perKey: 10, splitAt: 2_000, killAt: 4_000, mergeAt: 6_000, produceFor: 9_000, failoverTimeMs: 3_000 }),
  );
  it('fan-out with PostgreSQL leases (shorter)', { timeout: 90_000, skip: postgresBin() ? undefined : 'PostgreSQL is not installed' }, (t) =>
    scenario(t, { retrieval: 'fan-out', leases: 'postgres', keys: 20, perKey: 10, splitAt: 1_500, killAt: 3_000, mergeAt: 4_000, produceFor: 6_000, failoverTimeMs: 3_000 }),
  );
});
