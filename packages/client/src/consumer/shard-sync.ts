// Shard discovery and lease lifecycle (checklist 3.5): leases for the first layer of shards when the
// table is empty, leases for children at shard end, deletion of finished leases once their
// children have started.
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

/** ChildShards when a read ended without them: shards listing this one as a parent. */
export async function childrenFromListing(client: KinesisClient, stream: { StreamName: string } | { StreamARN: string }, shardId: string, signal?: AbortSignal): Promise<ChildShard[]> {
  const shards = await listShards(client, stream, undefined, signal);
  return shards
    .filter((s) => parentsOf(s).includes(shardId))
    .map((s) => ({ ShardId: s.ShardId, ParentShards: parentsOf(s), HashKeyRange: s.HashKeyRange }) as ChildShard);
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
