// A leased shard that ages out of retention before it is read to its end: the KCL takes the
// ResourceNotFoundException of a gone shard as a terminal result (shard end), so the lease ends
// at SHARD_END and the children start. Eddy's clock is moved a day on instead of waiting one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type KinesisClient, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { createConsumer, createMemoryLeaseStore, type Consumer } from '../../src/consumer/index.js';
import { newLease } from '../../src/consumer/lease.js';
import { Collector } from './helpers/collector.js';
import { createStream, type EddyLike, kinesisClient, listAllShards, putAll, startEddy, uniqueName, waitActive, waitFor } from './helpers/eddy.js';

const fast = { failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 50, parentShardPollIntervalMs: 50, taskBackoffMs: 50 } as const;
const HOUR = 3_600_000;
const MAX_HASH = ((1n << 128n) - 1n).toString();
const HALF = (1n << 127n).toString();

describe('consumer: shards past retention', () => {
  let eddy: EddyLike;
  let k: KinesisClient;
  // Eddy's clock: real time plus what the tests add (retention is 24 hours by default).
  let skewMs = 0;
  const running: Consumer[] = [];
  before(async () => {
    eddy = await startEddy({ clock: { now: () => Date.now() + skewMs } });
    k = kinesisClient(eddy.endpoint);
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    k.destroy();
    await eddy.close();
  });

  /** A one-shard stream holding ten records ("old0".."old9"), split in two halves at 2^127. */
  async function splitStreamWithOldRecords(): Promise<string> {
    const stream = uniqueName('x');
    await createStream(k, stream, 1);
    await putAll(k, stream, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, data: `old${i}` })));
    await k.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: HALF }));
    await waitActive(k, stream);
    return stream;
  }

  for (const retrieval of ['polling', 'fan-out'] as const) {
    it(`${retrieval}: ends a leased shard gone past retention at SHARD_END, and reads its children`, async () => {
      const stream = await splitStreamWithOldRecords();
      // The lease table as a worker left it while the parent was still being read: no child leases yet.
      const store = createMemoryLeaseStore();
      await store.initialize({ applicationName: 'app' });
      await store.create(newLease({ leaseKey: 'shardId-000000000000', checkpoint: 'TRIM_HORIZON', startingHashKey: '0', endingHashKey: MAX_HASH }));
      // A day later the closed parent is past retention: ListShards no longer has it.
      skewMs += 25 * HOUR;
      assert.deepEqual((await listAllShards(k, stream)).map((s) => s.ShardId), ['shardId-000000000001', 'shardId-000000000002']);
      const fresh = Array.from({ length: 40 }, (_, i) => ({ key: `n${i}`, data: `new${i}`, ehk: i % 2 === 0 ? '1' : HALF }));
      await putAll(k, stream, fresh);

      const c = new Collector();
      const events: string[] = [];
      const con = createConsumer({
        streamName: stream,
        applicationName: 'app',
        workerId: 'w1',
        client: k,
        leaseStore: store,
        retrieval,
        initialPosition: 'TRIM_HORIZON',
        processor: c.processor('w1'),
        onEvent: (e) => {
          c.onEvent(e);
          if (e.type === 'shardExpired' || e.type === 'shardEnded') events.push(`${e.type} ${e.shardId}`);
        },
        ...fast,
      });
      running.push(con);
      await con.start();
      await waitFor('the children\'s records', () => c.seen.length >= fresh.length);
      assert.deepEqual(c.data().sort(), fresh.map((r) => r.data).sort());
      const parent = await store.get('shardId-000000000000');
      assert.equal(parent?.checkpoint, 'SHARD_END');
      assert.deepEqual(parent?.childShardIds, ['shardId-000000000001', 'shardId-000000000002']);
      assert.deepEqual(events.slice(0, 2), ['shardExpired shardId-000000000000', 'shardEnded shardId-000000000000']);
      assert.deepEqual(con.leases(), ['shardId-000000000001', 'shardId-000000000002']);
      await con.stop();
      // No error other than the reads that found the shard missing.
      assert.deepEqual(c.errors.filter((e) => !/does not exist/.test(e.message)).map((e) => e.message), []);
    });
  }
  it('polling: a shard that ages out while it is being read ends at SHARD_END', async () => {
    const stream = await splitStreamWithOldRecords();
    const store = createMemoryLeaseStore();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const seen: string[] = [];
    const events: string[] = [];
    const con = createConsumer({
      streamName: stream,
      applicationName: 'app',
      workerId: 'w1',
      client: k,
      leaseStore: store,
      initialPosition: 'TRIM_HORIZON',
      // Two records a read: the parent takes five reads, and the first batch waits for the gate.
      maxRecords: 2,
      processor: {
        async processRecords({ shardId, records, checkpointer }) {
          seen.push(...records.map((r) => `${shardId} ${r.data.toString()}`));
          await gate;
          await checkpointer.checkpoint();
        },
        shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
      },
      onEvent: (e) => {
        if (e.type === 'shardExpired' || e.type === 'shardEnded') events.push(`${e.type} ${e.shardId}`);
      },
      ...fast,
    });
    running.push(con);
    await con.start();
    await waitFor('the first batch', () => seen.length > 0);
    // While the first batch is processed, a day passes: the parent is gone, its iterators expired.
    skewMs += 25 * HOUR;
    open();
    await waitFor('the parent ended', async () => (await store.get('shardId-000000000000'))?.checkpoint === 'SHARD_END');
    assert.deepEqual(events.slice(0, 2), ['shardExpired shardId-000000000000', 'shardEnded shardId-000000000000']);
    // What was read before is delivered; the rest aged out with the shard.
    assert.ok(seen.length >= 2 && seen.length < 10, seen.join());
    await waitFor('the children started', () => con.leases().length === 2);
    await con.stop();
  });
});
