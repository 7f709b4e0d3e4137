import { md5BigInt } from './md5.js';

/** A point of the 128-bit hash-key space. Made only by the parsers here. */
export type HashKey = bigint & { readonly __brand: 'HashKey' };

export const MAX_HASH_KEY = (1n << 128n) - 1n as HashKey;

/** Routing hash of a partition key: MD5 of its UTF-8 bytes as an unsigned 128-bit integer (checklist 1.4). */
export function partitionKeyHash(partitionKey: string): HashKey {
  return md5BigInt(partitionKey) as HashKey;
}

/** Parses a decimal hash key (pattern 0|([1-9]\d{0,38})); undefined when out of [0, 2^128-1]. */
export function parseHashKey(s: string): HashKey | undefined {
  if (!/^(0|[1-9]\d{0,38})$/.test(s)) return undefined;
  const v = BigInt(s);
  return v <= MAX_HASH_KEY ? (v as HashKey) : undefined;
}

export function hashKey(v: bigint): HashKey {
  if (v < 0n || v > MAX_HASH_KEY) throw new RangeError(`hash key out of range: ${v}`);
  return v as HashKey;
}

export interface HashRange {
  readonly start: HashKey;
  readonly end: HashKey;
}

/**
 * The ranges AWS gives n shards of a new stream: step = floor(2^128 / n), shard i covers
 * [i*step, (i+1)*step - 1], and the last one ends at 2^128 - 1 (checklist 1.5).
 */
export function evenRanges(n: number): HashRange[] {
  const step = (1n << 128n) / BigInt(n);
  const out: HashRange[] = [];
  for (let i = 0; i < n; i++) {
    const start = BigInt(i) * step;
    const end = i === n - 1 ? MAX_HASH_KEY : BigInt(i + 1) * step - 1n;
    out.push({ start: start as HashKey, end: end as HashKey });
  }
  return out;
}
