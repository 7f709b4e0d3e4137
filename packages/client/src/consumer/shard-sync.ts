// Shard discovery and lease lifecycle (checklist 3.5): leases for the first layer of shards when the
// table is empty, leases for children at shard end, deletion of finished leases once their
// children have started, and leases for holes in the hash-key range the open leases cover.
import { type ChildShard, type KinesisClient, ListShardsCommand, type Shard, type ShardFilter } from '@aws-sdk/client-kinesis';
import { type Lease, type LeaseStore, newLease, Sentinel } from './lease.js';
import type { InitialPosition } from './types.js';
import { callOptions } from './util.js';

export async function listShards(client: KinesisClient, stream: { StreamName: string } | { StreamARN: string }, filter?: ShardFilter, signal?: AbortSignal): Promise<Shard[]> {
  const out: Shard[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(
      new ListShardsCommand(token !== undefined ? { NextToken: token } : { ...stream, ...(filter ? { ShardFilter: filter } : {}) }),
      callOptions(signal),
    );
    out.push(...(r.Shards ?? []));
    token = r.NextToken;
  } while (token !== undefined);
  return out;
}

/** The checkpoint a new lease starts with for an initial position. */
export function initialCheckpoint(p: InitialPosition): string {
  return p === 'LATEST' ? Sentinel.LATEST : p === 'TRIM_HORIZON' ? Sentinel.TRIM_HORIZON : Sentinel.AT_TIMESTAMP;
}

function parentsOf(s: Shard): string[] {
  return [s.ParentShardId, s.AdjacentParentShardId].filter((x): x is string => typeof x === 'string' && x.length > 0);
}

/**
 * When the lease table is empty: one lease per shard open at the initial position (ListShards
 * ShardFilter AT_LATEST / AT_TRIM_HORIZON / AT_TIMESTAMP), as the KCL's shard syncer creates one
 * layer; descendants get leases from ChildShards when their parents end. Several workers may do
 * this at once: creation is conditional, and a worker that listed after a reshard creates children
 * whose parents then either have leases (and finish first) or have none (and count as finished).
 */
export async function bootstrapLeases(client: KinesisClient, stream: { StreamName: string } | { StreamARN: string }, store: LeaseStore, initial: InitialPosition, signal?: AbortSignal): Promise<string[]> {
  if ((await store.list()).length > 0) return [];
  const filter: ShardFilter =
    initial === 'LATEST' ? { Type: 'AT_LATEST' } : initial === 'TRIM_HORIZON' ? { Type: 'AT_TRIM_HORIZON' } : { Type: 'AT_TIMESTAMP', Timestamp: initial.timestamp };
  const shards = await listShards(client, stream, filter, signal);
  const created: string[] = [];
  for (const s of shards) {
    if (!s.ShardId) continue;
    const lease = newLease({
      leaseKey: s.ShardId,
      checkpoint: initialCheckpoint(initial),
      parentShardIds: parentsOf(s),
      startingHashKey: s.HashKeyRange?.StartingHashKey,
      endingHashKey: s.HashKeyRange?.EndingHashKey,
    });
    if (await store.create(lease)) created.push(s.ShardId);
  }
  return created;
}

/** Leases for the children of an ended shard, starting at their beginning (checklist 3.5). */
export async function createChildLeases(store: LeaseStore, children: readonly ChildShard[]): Promise<string[]> {
  const created: string[] = [];
  for (const c of children) {
    if (!c.ShardId) continue;
    const lease = newLease({
      leaseKey: c.ShardId,
      checkpoint: Sentinel.TRIM_HORIZON,
      parentShardIds: [...(c.ParentShards ?? [])].sort(),
      startingHashKey: c.HashKeyRange?.StartingHashKey,
      endingHashKey: c.HashKeyRange?.EndingHashKey,
    });
    if (await store.create(lease)) created.push(c.ShardId);
  }
  return created;
}

/**
 * Whether a shard is gone from the stream: ListShards (every shard within retention) succeeds and
 * does not have it. A missing stream is an error, not a gone shard.
 */
export async function shardGone(client: KinesisClient, stream: { StreamName: string } | { StreamARN: string }, shardId: string, signal?: AbortSignal): Promise<boolean> {
  const shards = await listShards(client, stream, undefined, signal);
  return !shards.some((s) => s.ShardId === shardId);
}

/** ChildShards when a read ended without them: shards listing this one as a parent. */
export async function childrenFromListing(client: KinesisClient, stream: { StreamName: string } | { StreamARN: string }, shardId: string, signal?: AbortSignal): Promise<ChildShard[]> {
  const shards = await listShards(client, stream, undefined, signal);
  return shards
    .filter((s) => parentsOf(s).includes(shardId))
    .map((s) => ({ ShardId: s.ShardId, ParentShards: parentsOf(s), HashKeyRange: s.HashKeyRange }) as ChildShard);
}

/** The largest hash key: keys run from 0 to 2^128 − 1 (checklist 1.4). */
export const MAX_HASH_KEY = (1n << 128n) - 1n;

export interface HashRange {
  readonly start: bigint;
  readonly end: bigint;
}

function rangeOfShard(s: Shard): HashRange | undefined {
  const a = s.HashKeyRange?.StartingHashKey;
  const b = s.HashKeyRange?.EndingHashKey;
  return a !== undefined && b !== undefined ? { start: BigInt(a), end: BigInt(b) } : undefined;
}

export function rangeOfLease(l: Lease): HashRange | undefined {
  return l.startingHashKey !== undefined && l.endingHashKey !== undefined ? { start: BigInt(l.startingHashKey), end: BigInt(l.endingHashKey) } : undefined;
}

/** A lease's range: its own, else its shard's in `shards`. */
function rangesFrom(shards: readonly Shard[]): (l: Lease) => HashRange | undefined {
  const byId = new Map(shards.map((s) => [s.ShardId, s]));
  return (l) => {
    const s = byId.get(l.leaseKey);
    return rangeOfLease(l) ?? (s ? rangeOfShard(s) : undefined);
  };
}

/**
 * Hash-key ranges no open (not SHARD_END) lease covers, as the KCL's PeriodicShardSyncManager
 * finds them (checklist 3.2 startingHashKey/endingHashKey, 3.5). `rangeOf` gives a lease's range
 * (from the lease, else from a listing); leases without one count for nothing.
 */
export function hashRangeHoles(leases: readonly Lease[], rangeOf: (l: Lease) => HashRange | undefined = rangeOfLease): HashRange[] {
  const ranges = leases
    .filter((l) => l.checkpoint !== Sentinel.SHARD_END)
    .map(rangeOf)
    .filter((r): r is HashRange => r !== undefined)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const holes: HashRange[] = [];
  let next = 0n; // the first key not covered so far
  for (const r of ranges) {
    if (r.start > next) holes.push({ start: next, end: r.start - 1n });
    if (r.end + 1n > next) next = r.end + 1n;
  }
  if (next <= MAX_HASH_KEY) holes.push({ start: next, end: MAX_HASH_KEY });
  return holes;
}

/**
 * Shard sync for holes: leases for the shards that cover them. A shard without a lease that
 * overlaps a hole gets one unless one of its parents is listed without a lease (that parent comes
 * first; this shard's lease is made at its end). It starts at TRIM_HORIZON when it has parents
 * (they are finished, gone, or their leases were cleaned up: its records come after theirs), at
 * the initial position when it has none. Returns the shards given leases.
 */
export async function fillHoles(store: LeaseStore, initial: InitialPosition, shards: readonly Shard[], leases: readonly Lease[], holes: readonly HashRange[]): Promise<string[]> {
  const listed = new Set(shards.map((s) => s.ShardId));
  const byKey = new Map(leases.map((l) => [l.leaseKey, l]));
  const created: string[] = [];
  for (const s of shards) {
    const id = s.ShardId;
    const r = rangeOfShard(s);
    if (!id || !r || byKey.has(id) || !holes.some((h) => r.start <= h.end && r.end >= h.start)) continue;
    const parents = parentsOf(s);
    if (parents.some((p) => listed.has(p) && !byKey.has(p))) continue;
    // A parent still in progress creates this lease itself at its end.
    const inProgress = (p: string): boolean => {
      const c = byKey.get(p)?.checkpoint;
      return c !== undefined && c !== Sentinel.SHARD_END;
    };
    if (parents.some(inProgress)) continue;
    const lease = newLease({
      leaseKey: id,
      checkpoint: parents.length > 0 ? Sentinel.TRIM_HORIZON : initialCheckpoint(initial),
      parentShardIds: [...parents].sort(),
      startingHashKey: s.HashKeyRange?.StartingHashKey,
      endingHashKey: s.HashKeyRange?.EndingHashKey,
    });
    if (await store.create(lease)) created.push(id);
  }
  return created;
}

/**
 * The KCL's periodic lease recovery audit: the lease table is compared with the stream every
 * interval; a hole in the hash-key range of the open leases seen `confidence` times in a row (the
 * same hole) runs shard sync for it. Call `run` every interval.
 */
export class HoleAuditor {
  #lastHoles = '';
  #seen = 0;
  constructor(
    readonly client: KinesisClient,
    readonly stream: { StreamName: string } | { StreamARN: string },
    readonly store: LeaseStore,
    readonly initial: InitialPosition,
    readonly confidence: number,
  ) {}

  /** One audit of `leases` (a listing of the table); resolves to the shards given leases (none until a hole is confirmed). */
  async run(leases: readonly Lease[], signal?: AbortSignal): Promise<string[]> {
    // An empty table is the bootstrap's to fill.
    if (leases.length === 0) return this.#reset();
    // Leases made by KCLs before 2.3 have no hash range: the listing has it.
    const needsListing = leases.some((l) => l.checkpoint !== Sentinel.SHARD_END && rangeOfLease(l) === undefined);
    const holes = hashRangeHoles(leases, rangesFrom(needsListing ? await listShards(this.client, this.stream, undefined, signal) : []));
    if (holes.length === 0) return this.#reset();
    const key = holes.map((h) => `${h.start}-${h.end}`).join(',');
    this.#seen = key === this.#lastHoles ? this.#seen + 1 : 1;
    this.#lastHoles = key;
    if (this.#seen < this.confidence) return [];
    this.#reset();
    // Confirmed: look again with a fresh table and listing, and fill what is still missing.
    const now = await this.store.list();
    const shards = await listShards(this.client, this.stream, undefined, signal);
    const still = hashRangeHoles(now, rangesFrom(shards));
    return still.length === 0 ? [] : fillHoles(this.store, this.initial, shards, now, still);
  }

  #reset(): string[] {
    this.#lastHoles = '';
    this.#seen = 0;
    return [];
  }
}

const STARTING = new Set<string>([Sentinel.TRIM_HORIZON, Sentinel.LATEST, Sentinel.AT_TIMESTAMP]);

/**
 * Finished leases whose children all have leases that have started (checkpointed past their
 * start) can go: no child waits on them any more (KCL LeaseCleanupManager, checklist 3.5).
 */
export function finishedLeasesToDelete(leases: readonly Lease[]): Lease[] {
  const byKey = new Map(leases.map((l) => [l.leaseKey, l]));
  return leases.filter(
    (l) =>
      l.checkpoint === Sentinel.SHARD_END &&
      l.childShardIds.length > 0 &&
      l.childShardIds.every((c) => {
        const child = byKey.get(c);
        return child !== undefined && !STARTING.has(child.checkpoint);
      }),
  );
}

/**
 * Whether every parent is finished. A parent with a lease is finished at SHARD_END. A parent with
 * no lease is finished unless one of its own ancestors is still in progress: then its lease is yet
 * to come (from that ancestor's ChildShards). Example: shard 0 splits into 4 and 5, then 5 merges
 * with 1 into 6; when 1 ends first, 6 is created while 5 has no lease because 0 is still being
 * read, and 6 must wait for 5 (the KCL waits at 1's end for the other parent's lease instead).
 * `parentsOf` gives a shard's parents from the stream's lineage (undefined: no longer listed).
 */
export async function parentsFinished(store: LeaseStore, parents: readonly string[], parentsOf: (shardId: string) => Promise<readonly string[] | undefined>): Promise<boolean> {
  const seen = new Set<string>();
  const pending = async (shardId: string): Promise<boolean> => {
    if (seen.has(shardId)) return false;
    seen.add(shardId);
    const l = await store.get(shardId);
    if (l) return l.checkpoint !== Sentinel.SHARD_END;
    let ancestorPending = false;
    for (const p of (await parentsOf(shardId)) ?? []) if ((ancestorPending = await pending(p))) break;
    // Read again: a parent stores SHARD_END only after creating its children's leases, so a parent
    // seen finished above means this lease, if it is ever to exist, exists now.
    const again = await store.get(shardId);
    if (again) return again.checkpoint !== Sentinel.SHARD_END;
    return ancestorPending;
  };
  for (const p of parents) if (await pending(p)) return false;
  return true;
}

/** Shard lineage from ListShards, cached: a shard's parents never change. */
export class Lineage {
  readonly #parents = new Map<string, readonly string[]>();
  #listing: Promise<void> | undefined;
  constructor(
    readonly client: KinesisClient,
    readonly stream: { StreamName: string } | { StreamARN: string },
  ) {}

  async parentsOf(shardId: string): Promise<readonly string[] | undefined> {
    const known = this.#parents.get(shardId);
    if (known) return known;
    this.#listing ??= listShards(this.client, this.stream).then(
      (shards) => {
        for (const s of shards) if (s.ShardId) this.#parents.set(s.ShardId, parentsOf(s));
      },
    ).finally(() => {
      this.#listing = undefined;
    });
    await this.#listing;
    return this.#parents.get(shardId);
  }
}
