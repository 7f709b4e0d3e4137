import { type KinesisClient, ListShardsCommand, type ListShardsCommandInput } from '@aws-sdk/client-kinesis';

/** Hash keys as 32-digit lower-case hex, so that string order is numeric order (cheap to compare). */
export function hashKeyHex(v: bigint): string {
  return v.toString(16).padStart(32, '0');
}

export interface ShardInfo {
  shardId: string;
  /** Hex (see hashKeyHex). */
  start: string;
  end: string;
  startKey: bigint;
  endKey: bigint;
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

  /** The open shard whose range holds `hex`, by binary search. */
  lookup(hex: string): ShardInfo | undefined {
    const s = this.#shards;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const sh = s[mid] as ShardInfo;
      if (hex < sh.start) hi = mid - 1;
      else if (hex > sh.end) lo = mid + 1;
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
          shards.push({ shardId: s.ShardId, start: hashKeyHex(startKey), end: hashKeyHex(endKey), startKey, endKey });
        }
        nextToken = out.NextToken;
      } while (nextToken);
      shards.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
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
