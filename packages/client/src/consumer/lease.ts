// Leases: one per shard, in the KCL's lease-table schema (checklist 3.2), behind a small store
// interface so that DynamoDB, PostgreSQL and memory hold the same thing.

/** Checkpoint values that are not sequence numbers (KCL `SentinelCheckpoint`, checklist 3.2). */
export const Sentinel = {
  TRIM_HORIZON: 'TRIM_HORIZON',
  LATEST: 'LATEST',
  AT_TIMESTAMP: 'AT_TIMESTAMP',
  SHARD_END: 'SHARD_END',
} as const;
export type Sentinel = (typeof Sentinel)[keyof typeof Sentinel];

/** A position in a shard: a sequence number (or sentinel) and a KPL sub-record index. */
export interface ExtendedSequenceNumber {
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
}

/**
 * One lease-table item. Field names are the KCL's DynamoDB attribute names (checklist 3.2), except
 * `parentShardIds` (attribute `parentShardId`, a string set).
 */
export interface Lease {
  /** The shard id. */
  readonly leaseKey: string;
  /** Worker holding the lease; absent when unassigned. */
  readonly leaseOwner?: string;
  /** Bumped by every renew, take, evict and checkpoint: others detect change by it. */
  readonly leaseCounter: number;
  /** A sequence number or a Sentinel. */
  readonly checkpoint: string;
  readonly checkpointSubSequenceNumber: number;
  readonly pendingCheckpoint?: string;
  readonly pendingCheckpointSubSequenceNumber?: number;
  readonly pendingCheckpointState?: Uint8Array;
  readonly ownerSwitchesSinceCheckpoint: number;
  readonly parentShardIds: readonly string[];
  readonly childShardIds: readonly string[];
  readonly startingHashKey?: string;
  readonly endingHashKey?: string;
  /**
   * The previous owner during a graceful hand-over (KCL 3.x `checkpointOwner`): it may still write
   * its last checkpoint, then clears this; the new owner starts reading after that.
   */
  readonly checkpointOwner?: string;
}

/** Fields an update sets; `null` removes an optional attribute. */
export interface LeaseChanges {
  leaseOwner?: string | null;
  checkpoint?: string;
  checkpointSubSequenceNumber?: number;
  pendingCheckpoint?: string | null;
  pendingCheckpointSubSequenceNumber?: number | null;
  pendingCheckpointState?: Uint8Array | null;
  ownerSwitchesSinceCheckpoint?: number;
  childShardIds?: readonly string[];
  checkpointOwner?: string | null;
}

/** What the stored lease must match for an update or delete to apply (all given fields). */
export interface LeaseCondition {
  leaseCounter?: number;
  checkpointOwner?: string;
}

/**
 * Where leases live. Every write is conditional, so that workers racing for a lease, or a stale
 * owner writing a checkpoint, find out instead of overwriting each other (checklist 3.3, 3.4).
 */
export interface LeaseStore {
  /** Creates the table when missing. `applicationName` names it unless the store was given a name. */
  initialize(context: { applicationName: string }): Promise<void>;
  /** Every lease (a consistent read). */
  list(): Promise<Lease[]>;
  get(leaseKey: string): Promise<Lease | undefined>;
  /** Creates the lease unless one with its key exists; true when created. */
  create(lease: Lease): Promise<boolean>;
  /**
   * Applies `changes` when the stored lease matches `condition`, adding 1 to leaseCounter unless
   * `bumpCounter` is false. Resolves to the lease as stored after the update, or undefined when the
   * lease is missing or the condition failed.
   */
  update(leaseKey: string, condition: LeaseCondition, changes: LeaseChanges, options?: { bumpCounter?: boolean }): Promise<Lease | undefined>;
  /** Deletes the lease when it matches `condition`; true when deleted. */
  delete(leaseKey: string, condition: LeaseCondition): Promise<boolean>;
  /** Releases what the store opened itself (a pool made from a connection string); idempotent. */
  close(): Promise<void>;
}

/** A fresh, unowned lease. */
export function newLease(fields: { leaseKey: string; checkpoint: string; parentShardIds?: readonly string[]; startingHashKey?: string | undefined; endingHashKey?: string | undefined }): Lease {
  return {
    leaseKey: fields.leaseKey,
    leaseCounter: 0,
    checkpoint: fields.checkpoint,
    checkpointSubSequenceNumber: 0,
    ownerSwitchesSinceCheckpoint: 0,
    parentShardIds: [...(fields.parentShardIds ?? [])],
    childShardIds: [],
    ...(fields.startingHashKey !== undefined ? { startingHashKey: fields.startingHashKey } : {}),
    ...(fields.endingHashKey !== undefined ? { endingHashKey: fields.endingHashKey } : {}),
  };
}

/** Applies changes to a lease in memory (the memory store, and stores that compute the result). */
export function applyChanges(lease: Lease, changes: LeaseChanges, bumpCounter: boolean): Lease {
  const out: Record<string, unknown> = { ...lease };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else out[k] = Array.isArray(v) ? [...(v as string[])] : v;
  }
  if (bumpCounter) out.leaseCounter = lease.leaseCounter + 1;
  return out as unknown as Lease;
}

export function matches(lease: Lease, condition: LeaseCondition): boolean {
  if (condition.leaseCounter !== undefined && lease.leaseCounter !== condition.leaseCounter) return false;
  if (condition.checkpointOwner !== undefined && lease.checkpointOwner !== condition.checkpointOwner) return false;
  return true;
}

function isSentinel(s: string): boolean {
  return s === Sentinel.TRIM_HORIZON || s === Sentinel.LATEST || s === Sentinel.AT_TIMESTAMP || s === Sentinel.SHARD_END;
}

/** Orders sequence numbers with sentinels: the starting sentinels sort first, SHARD_END last (KCL ExtendedSequenceNumber). */
function rank(s: string): bigint {
  switch (s) {
    case Sentinel.AT_TIMESTAMP:
      return -3n;
    case Sentinel.TRIM_HORIZON:
      return -2n;
    case Sentinel.LATEST:
      return -1n;
    case Sentinel.SHARD_END:
      return 1n << 200n;
    default:
      return BigInt(s);
  }
}

export function compareExtended(a: ExtendedSequenceNumber, b: ExtendedSequenceNumber): number {
  const ra = rank(a.sequenceNumber);
  const rb = rank(b.sequenceNumber);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (isSentinel(a.sequenceNumber)) return 0;
  return a.subSequenceNumber - b.subSequenceNumber;
}

export function isSequenceNumber(s: string): boolean {
  return /^\d{1,128}$/.test(s);
}

export function checkpointOf(lease: Lease): ExtendedSequenceNumber {
  return { sequenceNumber: lease.checkpoint, subSequenceNumber: lease.checkpointSubSequenceNumber };
}
