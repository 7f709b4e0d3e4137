import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type KinesisClient, MergeShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { createConsumer, createMemoryLeaseStore, type Consumer, type LeaseStore } from '../../src/consumer/index.js';
import { Collector } from './helpers/collector.js';
import { createStream, type EddyLike, kinesisClient, listAllShards, midHashKey, putAll, startEddy, uniqueName, waitActive, waitFor } from './helpers/eddy.js';

const fast = { failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 50, parentShardPollIntervalMs: 50, taskBackoffMs: 50 } as const;

describe('consumer (polling, memory leases)', () => {
  let eddy: EddyLike;
  let k: KinesisClient;
  const running: Consumer[] = [];
  before(async () => {
    eddy = await startEddy();
    k = kinesisClient(eddy.endpoint);
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    k.destroy();
    await eddy.close();
  });

  function consumer(stream: string, store: LeaseStore, c: Collector, worker: string, extra: Record<string, unknown> = {}): Consumer {
    const con = createConsumer({ streamName: stream, applicationName: 'app', workerId: worker, client: k, leaseStore: store, processor: c.processor(worker), onEvent: c.onEvent, ...fast, ...extra });
    running.push(con);
    return con;
  }

  it('reads every record of every shard from TRIM_HORIZON, in order per shard', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 4);
    const records = Array.from({ length: 2000 }, (_, i) => ({ key: `k${i % 50}`, data: `${i % 50}:${Math.floor(i / 50)}` }));
    await putAll(k, stream, records);
    const c = new Collector();
    const con = consumer(stream, createMemoryLeaseStore(), c, 'w1', { initialPosition: 'TRIM_HORIZON' });
    await con.start();
    await waitFor('all records', () => c.seen.length >= 2000);
    assert.equal(c.seen.length, 2000);
    const perKey = new Map<string, number>();
    for (const s of c.seen) {
      const [key, n] = s.data.split(':').map(Number) as [number, number];
      assert.equal(n, (perKey.get(String(key)) ?? -1) + 1, `order of key ${key}`);
      perKey.set(String(key), n);
    }
    assert.deepEqual(con.leases(), ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
    await con.stop();
    assert.deepEqual(c.errors, []);
  });

  it('starts at LATEST by default', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 2);
    await putAll(k, stream, Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, data: `old${i}` })));
    const c = new Collector();
    const con = consumer(stream, createMemoryLeaseStore(), c, 'w1');
    await con.start();
    await waitFor('both shards initialized', () => c.events.filter((e) => e.includes(' init ')).length === 2);
    // LATEST is taken when the shard's reader starts: write until something arrives.
    let i = 0;
    await waitFor('a new record', async () => {
      await putAll(k, stream, [{ key: `n${i}`, data: `new${i++}` }]);
      return c.seen.length > 0;
    });
    assert.ok(c.data().every((d) => d.startsWith('new')), c.data().join());
    assert.ok(c.events.every((e) => !e.includes(' init ') || e.endsWith(' LATEST')));
    await con.stop();
  });

  it('starts AT_TIMESTAMP', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 2);
    await putAll(k, stream, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, data: `old${i}` })));
    await new Promise((r) => setTimeout(r, 30));
    const timestamp = new Date();
    await new Promise((r) => setTimeout(r, 30));
    await putAll(k, stream, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, data: `new${i}` })));
    const c = new Collector();
    const con = consumer(stream, createMemoryLeaseStore(), c, 'w1', { initialPosition: { timestamp } });
    await con.start();
    await waitFor('10 records', () => c.seen.length >= 10);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(c.data().sort(), Array.from({ length: 10 }, (_, i) => `new${i}`).sort());
    await con.stop();
  });

  it('resumes after the last checkpoint', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 2);
    const store = createMemoryLeaseStore();
    await putAll(k, stream, Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, data: `a${i}` })));
    const c1 = new Collector();
    const con1 = consumer(stream, store, c1, 'w1', { initialPosition: 'TRIM_HORIZON' });
    await con1.start();
    await waitFor('first 100', () => c1.seen.length >= 100);
    await con1.stop();
    assert.deepEqual(con1.leases(), []);
    const leases = await store.list();
    assert.ok(leases.every((l) => l.leaseOwner === undefined && /^\d+$/.test(l.checkpoint)), JSON.stringify(leases));
    await putAll(k, stream, Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, data: `b${i}` })));
    const c2 = new Collector();
    const con2 = consumer(stream, store, c2, 'w2', { initialPosition: 'TRIM_HORIZON' });
    await con2.start();
    await waitFor('next 100', () => c2.seen.length >= 100);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(c2.data().sort(), Array.from({ length: 100 }, (_, i) => `b${i}`).sort());
    await con2.stop();
  });

  it('shares shards fairly and hands them over without duplicates', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 4);
    const store = createMemoryLeaseStore();
    const c = new Collector();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await putAll(k, stream, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, data: `${i}:${written / 40}` })));
        written += 40;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const a = consumer(stream, store, c, 'A', { initialPosition: 'TRIM_HORIZON' });
    await a.start();
    await waitFor('A holds all', () => a.leases().length === 4);
    const b = consumer(stream, store, c, 'B', { initialPosition: 'TRIM_HORIZON' });
    await b.start();
    await waitFor('2 and 2', () => a.leases().length === 2 && b.leases().length === 2, 20_000);
    await a.stop();
    await waitFor('B holds all', () => b.leases().length === 4);
    writing = false;
    await writer;
    await waitFor('everything', () => c.seen.length >= written);
    await new Promise((r) => setTimeout(r, 100));
    await b.stop();
    assert.equal(c.seen.length, written, 'no duplicates');
    const perKey = new Map<number, number>();
    for (const s of c.seen) {
      const [key, n] = s.data.split(':').map(Number) as [number, number];
      assert.equal(n, (perKey.get(key) ?? -1) + 1, `order of key ${key}`);
      perKey.set(key, n);
    }
    assert.ok(c.events.some((e) => e.startsWith('A shutdown')));
    assert.deepEqual(c.errors.filter((e) => !/lease/i.test(e.message)), []);
  });

  it('finishes parents before children through a split and a merge', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 2);
    const c = new Collector();
    const con = consumer(stream, createMemoryLeaseStore(), c, 'w1', { initialPosition: 'TRIM_HORIZON' });
    await con.start();
    const batch = (from: number) => Array.from({ length: 20 * 50 }, (_, i) => ({ key: `k${i % 20}`, data: `${i % 20}:${from + Math.floor(i / 20)}` }));
    await putAll(k, stream, batch(0));
    const shards = await listAllShards(k, stream);
    await k.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: midHashKey(shards[0]!) }));
    await waitActive(k, stream);
    await putAll(k, stream, batch(50));
    await k.send(new MergeShardsCommand({ StreamName: stream, ShardToMerge: 'shardId-000000000003', AdjacentShardToMerge: 'shardId-000000000001' }));
    await waitActive(k, stream);
    await putAll(k, stream, batch(100));
    await waitFor('all 3000', () => c.seen.length >= 3000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.seen.length, 3000);
    const perKey = new Map<number, number>();
    for (const s of c.seen) {
      const [key, n] = s.data.split(':').map(Number) as [number, number];
      assert.equal(n, (perKey.get(key) ?? -1) + 1, `order of key ${key}`);
      perKey.set(key, n);
    }
    const parents: Record<string, string[]> = {};
    for (const s of await listAllShards(k, stream)) parents[s.ShardId!] = [s.ParentShardId, s.AdjacentParentShardId].filter((x): x is string => !!x);
    for (const [child, ps] of Object.entries(parents)) {
      const first = c.seen.find((s) => s.shardId === child);
      if (!first) continue;
      for (const p of ps) {
        const ended = c.ended.get(p);
        assert.ok(ended !== undefined && ended <= first.at, `${p} ended before ${child} started`);
      }
    }
    assert.deepEqual([...c.ended.keys()].sort(), ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000003']);
    assert.deepEqual(con.leases(), ['shardId-000000000002', 'shardId-000000000004']);
    await con.stop();
  });

  it('takes a dead worker\'s leases within failoverTimeMs', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 2);
    const store = createMemoryLeaseStore();
    await store.initialize({ applicationName: 'app' });
    // Leases held by a worker that never renews again.
    for (const shard of ['shardId-000000000000', 'shardId-000000000001']) {
      await store.create({ leaseKey: shard, leaseOwner: 'ghost', leaseCounter: 7, checkpoint: 'TRIM_HORIZON', checkpointSubSequenceNumber: 0, ownerSwitchesSinceCheckpoint: 0, parentShardIds: [], childShardIds: [] });
    }
    const c = new Collector();
    const con = consumer(stream, store, c, 'w1', { failoverTimeMs: 1_000 });
    const t0 = Date.now();
    await con.start();
    await waitFor('both taken', () => con.leases().length === 2);
    const took = Date.now() - t0;
    assert.ok(took <= 1_000 + 150, `took ${took} ms`);
    assert.ok(took >= 600, `took ${took} ms: too eager`);
    const l = await store.get('shardId-000000000000');
    assert.equal(l?.leaseOwner, 'w1');
    assert.equal(l?.ownerSwitchesSinceCheckpoint, 1);
    await con.stop();
  });

  it('reports leaseLost when the lease is taken from under it, and refuses its checkpoints', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 1);
    const store = createMemoryLeaseStore();
    const events: string[] = [];
    let checkpointer: import('../../src/consumer/index.js').Checkpointer | undefined;
    const con = createConsumer({
      streamName: stream,
      applicationName: 'app',
      workerId: 'w1',
      client: k,
      leaseStore: store,
      ...fast,
      processor: {
        processRecords: ({ checkpointer: cp }) => {
          checkpointer = cp;
        },
        leaseLost: ({ shardId }) => {
          events.push(`lost ${shardId}`);
        },
        shardEnded: ({ checkpointer: cp }) => cp.checkpoint(),
      },
    });
    running.push(con);
    await con.start();
    await waitFor('lease', () => con.leases().length === 1);
    let i = 0;
    await waitFor('a record', async () => {
      await putAll(k, stream, [{ key: 'a', data: `x${i++}` }]);
      return checkpointer !== undefined;
    });
    const l = (await store.get('shardId-000000000000'))!;
    await store.update(l.leaseKey, { leaseCounter: l.leaseCounter }, { leaseOwner: 'thief' });
    await waitFor('leaseLost', () => events.length > 0);
    assert.deepEqual(events, ['lost shardId-000000000000']);
    assert.deepEqual(con.leases(), []);
    await assert.rejects(checkpointer!.checkpoint(), { code: 'ERR_EDDY_CONSUMER_LEASE_LOST' });
    assert.equal((await store.get(l.leaseKey))?.leaseOwner, 'thief');
    await con.stop();
  });

  it('offers the same records again when processRecords throws, and waits for a SHARD_END checkpoint', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 1);
    await putAll(k, stream, Array.from({ length: 10 }, (_, i) => ({ key: 'a', data: `r${i}` })));
    await k.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
    await waitActive(k, stream);
    const store = createMemoryLeaseStore();
    const calls: string[] = [];
    let failures = 1;
    let endCalls = 0;
    const errors: string[] = [];
    const con = createConsumer({
      streamName: stream,
      applicationName: 'app',
      client: k,
      leaseStore: store,
      initialPosition: 'TRIM_HORIZON',
      ...fast,
      onEvent: (e) => {
        if (e.type === 'error') errors.push(`${e.operation}: ${e.error.message}`);
      },
      processor: {
        processRecords: async ({ records, checkpointer }) => {
          calls.push(records.map((r) => r.data.toString()).join(','));
          if (failures-- > 0) throw new Error('boom');
          await checkpointer.checkpoint();
        },
        shardEnded: async ({ checkpointer }) => {
          // Forgets to checkpoint the first time.
          if (endCalls++ > 0) await checkpointer.checkpoint();
        },
      },
    });
    running.push(con);
    await con.start();
    await waitFor('parent finished', async () => (await store.get('shardId-000000000000'))?.checkpoint === 'SHARD_END');
    const all = Array.from({ length: 10 }, (_, i) => `r${i}`).join(',');
    assert.deepEqual(calls, [all, all]);
    assert.equal(endCalls, 2);
    assert.ok(errors.some((e) => e.startsWith('processRecords: boom')));
    assert.ok(errors.some((e) => e.startsWith('shardEnded: shardEnded returned without checkpointing')));
    const parent = await store.get('shardId-000000000000');
    assert.deepEqual(parent?.childShardIds, ['shardId-000000000001', 'shardId-000000000002']);
    const child = await store.get('shardId-000000000001');
    assert.deepEqual(child?.parentShardIds, ['shardId-000000000000']);
    assert.equal(child?.checkpoint, 'TRIM_HORIZON');
    await con.stop();
  });

  it('iterates batches with a checkpointer, and leaving the loop stops it', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 1);
    await putAll(k, stream, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, data: `p${i}` })));
    await k.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
    await waitActive(k, stream);
    await putAll(k, stream, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, data: `c${i}` })));
    const store = createMemoryLeaseStore();
    const con = createConsumer({ streamName: stream, applicationName: 'app', client: k, leaseStore: store, initialPosition: 'TRIM_HORIZON', ...fast });
    running.push(con);
    assert.throws(() => createConsumer({ streamName: stream, applicationName: 'app', client: k, leaseStore: store, processor: { processRecords() {}, shardEnded() {} } })[Symbol.asyncIterator](), {
      code: 'ERR_EDDY_CONSUMER_INVALID_USE',
    });
    const got: string[] = [];
    const order: string[] = [];
    for await (const batch of con) {
      order.push(`${batch.shardId}${batch.shardEnded ? ' end' : ''}`);
      got.push(...batch.records.map((r) => r.data.toString()));
      await batch.checkpoint();
      if (got.length >= 60) break;
    }
    assert.equal(got.length, 60);
    assert.deepEqual(got.slice(0, 30), Array.from({ length: 30 }, (_, i) => `p${i}`));
    const parentEnd = order.indexOf('shardId-000000000000 end');
    assert.ok(parentEnd >= 0 && order.slice(parentEnd + 1).every((o) => o.startsWith('shardId-000000000001') || o.startsWith('shardId-000000000002')), order.join());
    assert.equal((await store.get('shardId-000000000000'))?.checkpoint, 'SHARD_END');
    // Leaving the loop stopped the consumer and released its leases.
    assert.deepEqual(con.leases(), []);
    assert.ok((await store.list()).every((l) => l.leaseOwner === undefined || l.checkpoint === 'SHARD_END'));
  });

  it('keeps a hand-over going when the stealer lets go before it completes', async () => {
    const stream = uniqueName('c');
    await createStream(k, stream, 2);
    await putAll(k, stream, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, data: `r${i}` })));
    const store = createMemoryLeaseStore();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const seen: string[] = [];
    const errors: string[] = [];
    const a = createConsumer({
      streamName: stream,
      applicationName: 'app',
      workerId: 'A',
      client: k,
      leaseStore: store,
      initialPosition: 'TRIM_HORIZON',
      ...fast,
      onEvent: (e) => {
        if (e.type === 'error') errors.push(`${e.operation}: ${e.error.message}`);
      },
      processor: {
        async processRecords({ records, checkpointer }) {
          seen.push(...records.map((r) => r.data.toString()));
          await gate;
          await checkpointer.checkpoint();
        },
        shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
        shutdownRequested: ({ checkpointer }) => checkpointer.checkpoint(),
      },
    });
    running.push(a);
    await a.start();
    await waitFor('A reads both shards', () => a.leases().length === 2 && seen.length === 40);
    const b = consumer(stream, store, new Collector(), 'B');
    await b.start();
    await waitFor('B steals one', () => b.leases().length === 1);
    const stolen = b.leases()[0]!;
    await b.stop();
    const mid = await store.get(stolen);
    assert.equal(mid?.leaseOwner, undefined);
    assert.equal(mid?.checkpointOwner, 'A', 'the hand-over is still A\'s to finish');
    open();
    await waitFor('A finishes the hand-over and takes the lease back', async () => {
      const l = await store.get(stolen);
      return l?.checkpointOwner === undefined && a.leases().length === 2;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seen.length, 40, 'no record read twice');
    assert.match((await store.get(stolen))?.checkpoint ?? '', /^\d+$/);
    assert.deepEqual(errors, []);
    await a.stop();
  });
});
