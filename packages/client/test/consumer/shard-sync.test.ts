import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryLeaseStore, type Lease } from '../../src/consumer/index.js';
import { newLease } from '../../src/consumer/lease.js';
import type { Shard } from '@aws-sdk/client-kinesis';
import { fillHoles, finishedLeasesToDelete, hashRangeHoles, MAX_HASH_KEY, parentsFinished } from '../../src/consumer/shard-sync.js';

const lineage: Record<string, string[]> = { s0: [], s1: [], s4: ['s0'], s5: ['s0'], s6: ['s1', 's5'] };
const parentsOf = async (id: string) => lineage[id];

describe('shard lineage (checklist 3.5)', () => {
  it('waits for a parent whose lease is yet to come from a running ancestor', async () => {
    const store = createMemoryLeaseStore();
    await store.create({ ...newLease({ leaseKey: 's0', checkpoint: '123' }), leaseOwner: 'w' });
    await store.create({ ...newLease({ leaseKey: 's1', checkpoint: 'SHARD_END' }) });
    // s1 ended first and created s6; s5 has no lease yet because s0 is still being read.
    assert.equal(await parentsFinished(store, ['s1', 's5'], parentsOf), false);
    // s0 ends: it creates s5's lease, then stores SHARD_END.
    await store.create(newLease({ leaseKey: 's5', checkpoint: 'TRIM_HORIZON', parentShardIds: ['s0'] }));
    await store.update('s0', {}, { checkpoint: 'SHARD_END' });
    assert.equal(await parentsFinished(store, ['s1', 's5'], parentsOf), false);
    await store.update('s5', {}, { checkpoint: 'SHARD_END' });
    assert.equal(await parentsFinished(store, ['s1', 's5'], parentsOf), true);
  });

  it('sees a lease created while it looked at the ancestors', async () => {
    const store = createMemoryLeaseStore();
    await store.create({ ...newLease({ leaseKey: 's0', checkpoint: '123' }), leaseOwner: 'w' });
    await store.create(newLease({ leaseKey: 's1', checkpoint: 'SHARD_END' }));
    // s0 ends between our read of s5 (absent) and our read of s0.
    const racing = async (id: string) => {
      if (id === 's5') {
        await store.create(newLease({ leaseKey: 's5', checkpoint: 'TRIM_HORIZON', parentShardIds: ['s0'] }));
        await store.update('s0', {}, { checkpoint: 'SHARD_END' });
      }
      return lineage[id];
    };
    assert.equal(await parentsFinished(store, ['s1', 's5'], racing), false);
  });

  it('counts parents never leased (started after them: LATEST) as finished', async () => {
    const store = createMemoryLeaseStore();
    assert.equal(await parentsFinished(store, ['s1', 's5'], parentsOf), true);
    assert.equal(await parentsFinished(store, ['gone'], async () => undefined), true);
  });

  it('deletes finished leases once every child has started', () => {
    const l = (key: string, checkpoint: string, children: string[] = []): Lease => ({ ...newLease({ leaseKey: key, checkpoint }), childShardIds: children });
    const leases = [l('s0', 'SHARD_END', ['s4', 's5']), l('s4', '99'), l('s5', 'TRIM_HORIZON'), l('s1', 'SHARD_END', ['s6']), l('s6', 'SHARD_END', ['s7']), l('s7', '5')];
    assert.deepEqual(finishedLeasesToDelete(leases).map((x) => x.leaseKey), ['s1', 's6']);
  });
  it('finds the hash-key ranges no open lease covers', () => {
    const M = MAX_HASH_KEY;
    const l = (key: string, start: bigint, end: bigint, checkpoint = 'TRIM_HORIZON'): Lease => newLease({ leaseKey: key, checkpoint, startingHashKey: String(start), endingHashKey: String(end) });
    const table: [string, Lease[], [bigint, bigint][]][] = [
      ['covered', [l('a', 0n, 99n), l('b', 100n, M)], []],
      ['covered with overlap, any order', [l('b', 50n, M), l('a', 0n, 99n)], []],
      ['a hole in the middle', [l('a', 0n, 99n), l('c', 200n, M)], [[100n, 199n]]],
      ['holes at both ends', [l('b', 100n, 199n)], [[0n, 99n], [200n, M]]],
      ['a finished lease covers nothing', [l('a', 0n, 99n), l('b', 100n, M, 'SHARD_END')], [[100n, M]]],
      ['a lease without a range covers nothing', [l('a', 0n, 99n), newLease({ leaseKey: 'b', checkpoint: '5' })], [[100n, M]]],
      ['no leases', [], [[0n, M]]],
    ];
    for (const [name, leases, want] of table) {
      assert.deepEqual(hashRangeHoles(leases).map((h) => [h.start, h.end]), want, name);
    }
  });

  it('fills a hole with the oldest shards missing a lease, children of finished parents from their start', async () => {
    const M = MAX_HASH_KEY;
    const half = 1n << 127n;
    const shard = (id: string, start: bigint, end: bigint, parent?: string, adjacent?: string): Shard => ({
      ShardId: id,
      HashKeyRange: { StartingHashKey: String(start), EndingHashKey: String(end) },
      SequenceNumberRange: { StartingSequenceNumber: '1' },
      ...(parent ? { ParentShardId: parent } : {}),
      ...(adjacent ? { AdjacentParentShardId: adjacent } : {}),
    });
    // s0 split into s2 and s3; s1 open throughout.
    const shards = [shard('s0', 0n, half - 1n), shard('s1', half, M), shard('s2', 0n, half / 2n - 1n, 's0'), shard('s3', half / 2n, half - 1n, 's0')];
    const lease = (id: string, checkpoint: string): Lease => {
      const s = shards.find((x) => x.ShardId === id)!;
      return newLease({ leaseKey: id, checkpoint, startingHashKey: s.HashKeyRange!.StartingHashKey, endingHashKey: s.HashKeyRange!.EndingHashKey });
    };
    // s0 finished but its children's leases were never made (the worker died in between).
    let store = createMemoryLeaseStore();
    let leases = [lease('s0', 'SHARD_END'), lease('s1', '7')];
    for (const x of leases) await store.create(x);
    assert.deepEqual(await fillHoles(store, 'LATEST', shards, leases, hashRangeHoles(leases)), ['s2', 's3']);
    assert.equal((await store.get('s2'))?.checkpoint, 'TRIM_HORIZON');
    assert.deepEqual((await store.get('s3'))?.parentShardIds, ['s0']);
    // s0's lease was deleted by hand before it ended: s0 comes back (at the initial position, it
    // has no parents), not its children, which s0 makes at its end.
    store = createMemoryLeaseStore();
    leases = [lease('s1', '7')];
    for (const x of leases) await store.create(x);
    assert.deepEqual(await fillHoles(store, 'LATEST', shards, leases, hashRangeHoles(leases)), ['s0']);
    assert.equal((await store.get('s0'))?.checkpoint, 'LATEST');
    // s2's lease was deleted by hand after s0's was cleaned up, and s0 is past retention.
    store = createMemoryLeaseStore();
    leases = [lease('s1', '7'), lease('s3', '9')];
    for (const x of leases) await store.create(x);
    assert.deepEqual(await fillHoles(store, 'LATEST', shards.slice(1), leases, hashRangeHoles(leases)), ['s2']);
    assert.equal((await store.get('s2'))?.checkpoint, 'TRIM_HORIZON');
  });
});
