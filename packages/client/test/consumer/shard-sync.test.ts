import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryLeaseStore, type Lease } from '../../src/consumer/index.js';
import { newLease } from '../../src/consumer/lease.js';
import { finishedLeasesToDelete, parentsFinished } from '../../src/consumer/shard-sync.js';

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
});
