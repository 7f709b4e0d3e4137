import { type KinesisClient, ListShardsCommand, type ListShardsCommandInput } from '@aws-sdk/client-kinesis';

import { bigintWords, out } from './hash-key.js';

export interface ShardInfo {
  shardId: string;
  startKey: bigint;
  endKey: bigint;
  /** Start and end hash keys as biased words (hash-key.ts), for cheap comparisons. */
  s0: number;
  s1: number;
  s2: number;
  s3: number;
  e0: number;
  e1: number;
  e2: number;
  e3: number;
}

/** Whether the biased words (w0..w3) lie in the shard's range. */
export function inShard(s: ShardInfo, w0: number, w1: number, w2: number, w3: number): boolean {
  return !before(w0, w1, w2, w3, s) && !after(w0, w1, w2, w3, s);
}

function before(w0: number, w1: number, w2: number, w3: number, s: ShardInfo): boolean {
  if (w0 !== s.s0) return w0 < s.s0;
  if (w1 !== s.s1) return w1 < s.s1;
  if (w2 !== s.s2) return w2 < s.s2;
  return w3 < s.s3;
}

function after(w0: number, w1: number, w2: number, w3: number, s: ShardInfo): boolean {
  if (w0 !== s.e0) return w0 > s.e0;
  if (w1 !== s.e1) return w1 > s.e1;
  if (w2 !== s.e2) return w2 > s.e2;
  return w3 > s.e3;
}

function shardInfo(shardId: string, startKey: bigint, endKey: bigint): ShardInfo {
  bigintWords(startKey);
  const [s0, s1, s2, s3] = out as unknown as [number, number, number, number];
  bigintWords(endKey);
  const [e0, e1, e2, e3] = out as unknown as [number, number, number, number];
  return { shardId, startKey, endKey, s0, s1, s2, s3, e0, e1, e2, e3 };
}

/**
 * The open shards of a stream, from ListShards with ShardFilter AT_LATEST as the KPL does
 * (checklist 2.1), sorted by starting hash key. One refresh runs at a time; callers that ask while
 * one runs share it.
 */
export class ShardMap {
  #shards: ShardInfo[] = [];
  #byId = new Map<string, ShardInfo>();
  #refreshing: Promise<void> | undefined;
  #version = 0;
  #lastError: unknown;
  #lastRefreshAt = -Infinity;

  constructor(
    private readonly client: KinesisClient,
    private readonly stream: { StreamName: string } | { StreamARN: string },
  ) {}

  get ready(): boolean {
    return this.#shards.length > 0;
  }

  /** Bumped on every successful refresh. */
  get version(): number {
    return this.#version;
  }

  get lastError(): unknown {
    return this.#lastError;
  }

  get lastRefreshAt(): number {
    return this.#lastRefreshAt;
  }

  get refreshing(): boolean {
    return this.#refreshing !== undefined;
  }

  shards(): readonly ShardInfo[] {
    return this.#shards;
  }

  byId(shardId: string): ShardInfo | undefined {
    return this.#byId.get(shardId);
  }

  /** The open shard whose range holds the hash key (biased words), by binary search. */
  lookup(w0: number, w1: number, w2: number, w3: number): ShardInfo | undefined {
    const s = this.#shards;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const sh = s[mid] as ShardInfo;
      if (before(w0, w1, w2, w3, sh)) hi = mid - 1;
      else if (after(w0, w1, w2, w3, sh)) lo = mid + 1;
      else return sh;
    }
    return undefined;
  }

  refresh(signal?: AbortSignal): Promise<void> {
    this.#refreshing ??= this.#load(signal).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #load(signal?: AbortSignal): Promise<void> {
    try {
      const shards: ShardInfo[] = [];
      let nextToken: string | undefined;
      do {
        // NextToken excludes the stream name and filter (checklist 1.7 ListShards).
        const input: ListShardsCommandInput = nextToken ? { NextToken: nextToken } : { ...this.stream, ShardFilter: { Type: 'AT_LATEST' } };
        const out = await this.client.send(new ListShardsCommand(input), signal ? { abortSignal: signal } : {});
        for (const s of out.Shards ?? []) {
          if (!s.ShardId || !s.HashKeyRange?.StartingHashKey || !s.HashKeyRange.EndingHashKey) continue;
          const startKey = BigInt(s.HashKeyRange.StartingHashKey);
          const endKey = BigInt(s.HashKeyRange.EndingHashKey);
          shards.push(shardInfo(s.ShardId, startKey, endKey));
        }
        nextToken = out.NextToken;
      } while (nextToken);
      shards.sort((a, b) => (a.startKey < b.startKey ? -1 : a.startKey > b.startKey ? 1 : 0));
      this.#shards = shards;
      this.#byId = new Map(shards.map((s) => [s.shardId, s]));
      this.#version++;
      this.#lastError = undefined;
      this.#lastRefreshAt = performance.now();
    } catch (e) {
      this.#lastError = e;
      this.#lastRefreshAt = performance.now();
      throw e;
    }
  }
}
