import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Lease } from '../../src/consumer/index.js';
import { planTakes, type TakerInput } from '../../src/consumer/lease-taker.js';

const lease = (i: number, owner?: string, extra: Partial<Lease> = {}): Lease => ({
  leaseKey: `shardId-${String(i).padStart(12, '0')}`,
  leaseCounter: 1,
  checkpoint: 'TRIM_HORIZON',
  checkpointSubSequenceNumber: 0,
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: [],
  childShardIds: [],
  ...(owner !== undefined ? { leaseOwner: owner } : {}),
  ...extra,
});

function plan(leases: Lease[], me: string, o: Partial<TakerInput> = {}) {
  return planTakes({
    leases,
    workerId: me,
    held: new Set(leases.filter((l) => l.leaseOwner === me).map((l) => l.leaseKey)),
    expired: new Set(),
    veryOld: new Set(),
    maxLeasesForWorker: Number.POSITIVE_INFINITY,
    maxLeasesToStealAtOneTime: 1,
    ...o,
  });
}

describe('lease taker (KCL 2.x rules, checklist 3.3)', () => {
  it('takes every unowned lease when alone', () => {
    const p = plan([lease(0), lease(1), lease(2), lease(3)], 'a');
    assert.equal(p.target, 4);
    assert.equal(p.take.length, 4);
  });

  it('aims for ceil(leases / workers), counting owners of live leases and itself', () => {
    const p = plan([lease(0, 'b'), lease(1, 'b'), lease(2), lease(3)], 'a');
    assert.equal(p.workers, 2);
    assert.equal(p.target, 2);
    assert.equal(p.take.length, 2);
    assert.equal(plan([lease(0, 'b')], 'a').target, 1);
  });

  it('is stable at 2/1/1 for 4 leases and 3 workers', () => {
    const ls = [lease(0, 'a'), lease(1, 'a'), lease(2, 'b'), lease(3, 'c')];
    for (const me of ['a', 'b', 'c']) {
      const p = plan(ls, me);
      assert.deepEqual([p.take, p.steal], [[], []], me);
    }
  });

  it('steals one at a time from the most loaded worker', () => {
    const ls = [0, 1, 2, 3].map((i) => lease(i, 'b'));
    const p = plan(ls, 'a');
    assert.equal(p.steal.length, 1);
    assert.equal(p.steal[0]?.leaseOwner, 'b');
    assert.equal(plan(ls, 'a', { maxLeasesToStealAtOneTime: 2 }).steal.length, 2);
  });

  it('does not steal a lease being handed over', () => {
    const ls = [lease(0, 'b', { checkpointOwner: 'c' }), lease(1, 'b', { checkpointOwner: 'c' }), lease(2, 'b', { checkpointOwner: 'c' })];
    assert.deepEqual(plan(ls, 'a').steal, []);
  });

  it('takes expired leases before stealing, and very old ones whatever the target', () => {
    const ls = [lease(0, 'dead'), lease(1, 'dead'), lease(2, 'dead'), lease(3, 'b')];
    const expired = new Set([0, 1, 2].map((i) => lease(i).leaseKey));
    const p = plan(ls, 'a', { expired });
    assert.equal(p.workers, 2, 'the dead worker does not count');
    assert.equal(p.take.length, 2);
    assert.deepEqual(p.steal, []);
    const old = plan(ls, 'a', { expired, veryOld: expired });
    assert.equal(old.take.length, 3);
    assert.equal(plan(ls, 'a', { expired, veryOld: expired, maxLeasesForWorker: 1 }).take.length, 1);
  });

  it('retakes its own lease it does not hold (a restart under the same worker id)', () => {
    const p = planTakes({ leases: [lease(0, 'a')], workerId: 'a', held: new Set(), expired: new Set(), veryOld: new Set(), maxLeasesForWorker: 10, maxLeasesToStealAtOneTime: 1 });
    assert.equal(p.take.length, 1);
  });

  it('converges to a fair share from any start (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), (n, w, initial) => {
        const workers = Array.from({ length: w }, (_, i) => `w${i}`);
        let leases = Array.from({ length: n }, (_, i) => lease(i, workers[(initial[i] ?? 0) % w]));
        // Rounds of every worker planning on the same table; steals apply at once.
        for (let round = 0; round < 4 * n + 4; round++) {
          for (const me of workers) {
            const p = plan(leases, me);
            const moved = new Set([...p.take, ...p.steal].map((l) => l.leaseKey));
            leases = leases.map((l) => (moved.has(l.leaseKey) ? { ...l, leaseOwner: me, leaseCounter: l.leaseCounter + 1 } : l));
          }
        }
        const counts = workers.map((x) => leases.filter((l) => l.leaseOwner === x).length);
        return Math.max(...counts) - Math.min(...counts) <= 1;
      }),
    );
  });
});
