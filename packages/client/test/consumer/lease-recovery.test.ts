// Lease-table holes (KCL PeriodicShardSyncManager, checklist 3.5): a lease deleted from under a
// running worker leaves part of the hash-key range with no open lease; the audit finds the hole
// and makes the lease again, and the shard's records are delivered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { createConsumer, createDynamoDbLeaseStore, createMemoryLeaseStore, type Consumer, type LeaseStore } from '../../src/consumer/index.js';
import { Collector } from './helpers/collector.js';
import { type Dynalite, startDynalite } from './helpers/dynalite.js';
import { createStream, type EddyLike, kinesisClient, listAllShards, putAll, startEddy, uniqueName, waitFor } from './helpers/eddy.js';

const fast = { failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 50, parentShardPollIntervalMs: 50, taskBackoffMs: 50 } as const;

describe('lease recovery audit', () => {
  let eddy: EddyLike;
  let k: KinesisClient;
  let dynalite: Dynalite;
  const running: Consumer[] = [];
  before(async () => {
    eddy = await startEddy();
    k = kinesisClient(eddy.endpoint);
    dynalite = await startDynalite();
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    k.destroy();
    await eddy.close();
    await dynalite.close();
  });

  const stores: [string, (app: string) => LeaseStore][] = [
    ['memory', () => createMemoryLeaseStore()],
    ['DynamoDB (dynalite)', (app) => createDynamoDbLeaseStore({ client: dynalite.client(), tableName: app })],
  ];
  for (const [name, make] of stores) {
    it(`${name}: a lease deleted by hand is made again and its shard read`, async () => {
      const stream = uniqueName('h');
      const app = uniqueName('app');
      await createStream(k, stream, 4);
      const shards = await listAllShards(k, stream);
      // A record for each shard: its starting hash key as the explicit hash key.
      const batch = (tag: string) => shards.map((s, i) => ({ key: `k${i}`, data: `${tag}:${s.ShardId}`, ehk: s.HashKeyRange!.StartingHashKey! }));
      const store = make(app);
      const c = new Collector();
      const events: string[] = [];
      const con = createConsumer({
        streamName: stream,
        applicationName: app,
        workerId: 'w1',
        client: k,
        leaseStore: store,
        initialPosition: 'TRIM_HORIZON',
        processor: c.processor('w1'),
        leasesRecoveryAuditorIntervalMs: 100,
        onEvent: (e) => {
          c.onEvent(e);
          if (e.type === 'leasesCreated' || e.type === 'leaseLost') events.push(`${e.type} ${'shardIds' in e ? e.shardIds.join() : e.shardId}`);
        },
        ...fast,
      });
      running.push(con);
      await con.start();
      await putAll(k, stream, batch('one'));
      await waitFor('the first records', () => c.seen.length >= 4);
      assert.equal(con.leases().length, 4);
      const victim = 'shardId-000000000002';
      // The delete is conditional on the lease counter, which the owner's renewals move on: retry
      // until one lands between two renewals.
      let deleted = false;
      for (let attempt = 0; attempt < 50 && !deleted; attempt++) {
        const l = await store.get(victim);
        deleted = l !== undefined && (await store.delete(victim, { leaseCounter: l.leaseCounter }));
      }
      assert.ok(deleted, 'the lease deleted by hand');
      // The worker loses it at its next renewal; the audit sees the hole three times, then makes the lease.
      await waitFor('the lease made again', async () => (await store.get(victim)) !== undefined);
      assert.ok(events.includes(`leasesCreated ${victim}`), events.join('\n'));
      await putAll(k, stream, batch('two'));
      await waitFor('every shard\'s second record', () => batch('two').every((r) => c.data().includes(r.data)));
      assert.equal((await store.get(victim))?.leaseOwner, 'w1');
      assert.deepEqual(con.leases(), shards.map((s) => s.ShardId!).sort());
      await con.stop();
      await store.close();
    });
  }
});
