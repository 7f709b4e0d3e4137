import { applyChanges, type Lease, type LeaseChanges, type LeaseCondition, type LeaseStore, matches } from './lease.js';

function copy(l: Lease): Lease {
  return {
    ...l,
    parentShardIds: [...l.parentShardIds],
    childShardIds: [...l.childShardIds],
    ...(l.pendingCheckpointState !== undefined ? { pendingCheckpointState: Uint8Array.from(l.pendingCheckpointState) } : {}),
  };
}

/**
 * Leases in this process's memory: for tests, and for several consumers in one process. Nothing
 * survives a restart. Operations are asynchronous like the real stores so callers meet the same
 * interleavings.
 */
export function createMemoryLeaseStore(): LeaseStore {
  const leases = new Map<string, Lease>();
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    async initialize() {
      await tick();
    },
    async list() {
      await tick();
      return [...leases.values()].map(copy);
    },
    async get(leaseKey: string) {
      await tick();
      const l = leases.get(leaseKey);
      return l && copy(l);
    },
    async create(lease: Lease) {
      await tick();
      if (leases.has(lease.leaseKey)) return false;
      leases.set(lease.leaseKey, copy(lease));
      return true;
    },
    async update(leaseKey: string, condition: LeaseCondition, changes: LeaseChanges, options: { bumpCounter?: boolean } = {}) {
      await tick();
      const l = leases.get(leaseKey);
      if (!l || !matches(l, condition)) return undefined;
      const next = applyChanges(l, changes, options.bumpCounter ?? true);
      leases.set(leaseKey, next);
      return copy(next);
    },
    async delete(leaseKey: string, condition: LeaseCondition) {
      await tick();
      const l = leases.get(leaseKey);
      if (!l || !matches(l, condition)) return false;
      leases.delete(leaseKey);
      return true;
    },
    async close() {
      // Nothing to release.
    },
  };
}
