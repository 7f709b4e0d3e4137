// One suite, three stores: memory, DynamoDB (dynalite) and PostgreSQL (a real server).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import pg from 'pg';
import {
  createDynamoDbLeaseStore,
  createMemoryLeaseStore,
  createPostgresLeaseStore,
  type Lease,
  type LeaseStore,
} from '../../src/consumer/index.js';
import { type Dynalite, startDynalite } from './helpers/dynalite.js';
import { uniqueName } from './helpers/eddy.js';
import { type Postgres, postgresBin, startPostgres } from './helpers/postgres.js';

const full: Lease = {
  leaseKey: 'shardId-000000000004',
  leaseCounter: 0,
  checkpoint: 'TRIM_HORIZON',
  checkpointSubSequenceNumber: 0,
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: ['shardId-000000000001', 'shardId-000000000003'],
  childShardIds: [],
  startingHashKey: '0',
  endingHashKey: '340282366920938463463374607431768211455',
};

function conformance(name: string, make: () => Promise<LeaseStore>, skip?: string) {
  describe(`${name} lease store`, { skip }, () => {
    let store: LeaseStore;
    before(async () => {
      store = await make();
      await store.initialize({ applicationName: uniqueName('app') });
    });
    after(() => store?.close());

    it('initializes again, concurrently, without harm', async () => {
      // As workers starting together: each with its own store (own pool or client).
      const others = await Promise.all(Array.from({ length: 4 }, () => make()));
      const app = uniqueName('app');
      await Promise.all(others.map((o) => o.initialize({ applicationName: app })));
      await others[0]!.initialize({ applicationName: app });
      for (const o of others) assert.deepEqual(await o.list(), []);
      await Promise.all(others.map((o) => o.close()));
    });

    it('creates once and reads back every field', async () => {
      assert.equal(await store.create(full), true);
      assert.equal(await store.create({ ...full, checkpoint: 'LATEST' }), false);
      assert.deepEqual(await store.get(full.leaseKey), full);
      assert.equal(await store.get('shardId-999999999999'), undefined);
      assert.deepEqual(
        (await store.list()).find((l) => l.leaseKey === full.leaseKey),
        full,
      );
    });

    it('updates conditionally on the lease counter, bumping it', async () => {
      const key = 'shardId-000000000010';
      await store.create({ ...full, leaseKey: key, parentShardIds: [] });
      const taken = await store.update(key, { leaseCounter: 0 }, { leaseOwner: 'w1', ownerSwitchesSinceCheckpoint: 1 });
      assert.equal(taken?.leaseOwner, 'w1');
      assert.equal(taken?.leaseCounter, 1);
      assert.equal(taken?.ownerSwitchesSinceCheckpoint, 1);
      assert.equal(await store.update(key, { leaseCounter: 0 }, { leaseOwner: 'w2' }), undefined, 'stale counter');
      const cp = await store.update(key, { leaseCounter: 1 }, {
        checkpoint: '49590338271490256608559692538361571095921575989136588898',
        checkpointSubSequenceNumber: 3,
        ownerSwitchesSinceCheckpoint: 0,
        pendingCheckpoint: '1',
        pendingCheckpointSubSequenceNumber: 2,
        pendingCheckpointState: Uint8Array.of(1, 2, 3),
      });
      assert.equal(cp?.leaseCounter, 2);
      assert.equal(cp?.checkpoint, '49590338271490256608559692538361571095921575989136588898');
      assert.equal(cp?.checkpointSubSequenceNumber, 3);
      assert.deepEqual(cp?.pendingCheckpointState, Uint8Array.of(1, 2, 3));
      const cleared = await store.update(key, { leaseCounter: 2 }, { leaseOwner: null, pendingCheckpoint: null, pendingCheckpointSubSequenceNumber: null, pendingCheckpointState: null });
      assert.equal(cleared?.leaseOwner, undefined);
      assert.equal(cleared?.pendingCheckpoint, undefined);
      assert.equal(cleared?.pendingCheckpointState, undefined);
      const ended = await store.update(key, { leaseCounter: 3 }, { checkpoint: 'SHARD_END', childShardIds: ['shardId-000000000011', 'shardId-000000000012'] });
      assert.deepEqual(ended?.childShardIds, ['shardId-000000000011', 'shardId-000000000012']);
      assert.deepEqual((await store.get(key))?.childShardIds, ['shardId-000000000011', 'shardId-000000000012']);
      assert.equal(await store.update('shardId-000000000099', {}, { leaseOwner: 'x' }), undefined, 'missing lease');
    });

    it('hands over on checkpointOwner without touching the counter', async () => {
      const key = 'shardId-000000000020';
      await store.create({ ...full, leaseKey: key });
      const stolen = await store.update(key, { leaseCounter: 0 }, { leaseOwner: 'new', checkpointOwner: 'old' });
      assert.equal(stolen?.checkpointOwner, 'old');
      assert.equal(await store.update(key, { checkpointOwner: 'someone' }, { checkpoint: '5' }, { bumpCounter: false }), undefined);
      const last = await store.update(key, { checkpointOwner: 'old' }, { checkpoint: '5' }, { bumpCounter: false });
      assert.equal(last?.leaseCounter, 1);
      assert.equal(last?.checkpoint, '5');
      const done = await store.update(key, { checkpointOwner: 'old' }, { checkpointOwner: null }, { bumpCounter: false });
      assert.equal(done?.checkpointOwner, undefined);
      assert.equal(done?.leaseOwner, 'new');
    });

    it('lets exactly one of many racing takers win', async () => {
      const key = 'shardId-000000000030';
      await store.create({ ...full, leaseKey: key });
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.update(key, { leaseCounter: 0 }, { leaseOwner: `w${i}` })));
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.equal((await store.get(key))?.leaseOwner, winners[0]?.leaseOwner);
    });

    it('deletes conditionally', async () => {
      const key = 'shardId-000000000040';
      await store.create({ ...full, leaseKey: key });
      assert.equal(await store.delete(key, { leaseCounter: 7 }), false);
      assert.equal(await store.delete(key, { leaseCounter: 0 }), true);
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.delete(key, {}), false);
    });
  });
}

conformance('memory', async () => createMemoryLeaseStore());

let dynalite: Dynalite | undefined;
conformance('DynamoDB (dynalite)', async () => {
  dynalite ??= await startDynalite();
  return createDynamoDbLeaseStore({ client: dynalite.client() });
});

describe('DynamoDB lease table schema', () => {
  it('stores the KCL attribute names and types (checklist 3.2)', async () => {
    dynalite ??= await startDynalite();
    const client = dynalite.client();
    const tableName = uniqueName('kcl');
    const store = createDynamoDbLeaseStore({ client, tableName });
    await store.initialize({ applicationName: 'ignored-when-named' });
    await store.create(full);
    await store.update(full.leaseKey, { leaseCounter: 0 }, { leaseOwner: 'w1', checkpoint: '123', checkpointSubSequenceNumber: 2 });
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { leaseKey: { S: full.leaseKey } } }));
    assert.deepEqual(Item, {
      leaseKey: { S: full.leaseKey },
      leaseOwner: { S: 'w1' },
      leaseCounter: { N: '1' },
      checkpoint: { S: '123' },
      checkpointSubSequenceNumber: { N: '2' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      parentShardId: { SS: ['shardId-000000000001', 'shardId-000000000003'] },
      startingHashKey: { S: '0' },
      endingHashKey: { S: '340282366920938463463374607431768211455' },
    });
  });
});

let postgres: Postgres | undefined;
const pgSkip = postgresBin() ? undefined : 'PostgreSQL is not installed';
conformance(
  'PostgreSQL',
  async () => {
    postgres ??= await startPostgres();
    return createPostgresLeaseStore({ connectionString: postgres.connectionString });
  },
  pgSkip,
);

describe('PostgreSQL lease table', { skip: pgSkip }, () => {
  it('has a column per lease field and takes a caller-owned pool', async () => {
    postgres ??= await startPostgres();
    const pool = new pg.Pool({ connectionString: postgres.connectionString });
    const store = createPostgresLeaseStore({ pool, tableName: 'My-App' });
    await store.initialize({ applicationName: 'x' });
    await store.create(full);
    const r = await pool.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'My-App' ORDER BY ordinal_position`);
    assert.deepEqual(
      r.rows.map((x: { column_name: string }) => x.column_name),
      [
        'lease_key',
        'lease_owner',
        'lease_counter',
        'checkpoint',
        'checkpoint_sub_sequence_number',
        'pending_checkpoint',
        'pending_checkpoint_sub_sequence_number',
        'pending_checkpoint_state',
        'owner_switches_since_checkpoint',
        'parent_shard_id',
        'child_shard_ids',
        'starting_hash_key',
        'ending_hash_key',
        'checkpoint_owner',
      ],
    );
    await store.close();
    // The pool is the caller's: still usable.
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM "My-App"')).rows[0].n, 1);
    await pool.end();
  });
});

after(async () => {
  await dynalite?.close();
  await postgres?.stop();
});
