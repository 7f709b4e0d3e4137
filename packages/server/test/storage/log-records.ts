/** Records and shards for the segment log's tests (segment-log.test.ts, commit-log.test.ts). */
import type { AppendEntry, ShardRef, StoredRecord } from '../../src/storage/types.js';

export const S0: ShardRef = { streamId: 1, shardIndex: 0 };
export const S1: ShardRef = { streamId: 1, shardIndex: 1 };
export const T0: ShardRef = { streamId: 2, shardIndex: 0 };
/** Read limits that take everything. */
export const all = { maxRecords: 1_000_000, maxBytes: Infinity };
/** Record p arrives at T + p ms. */
export const T = 1_700_000_000_000;

/** The record at position p: `size` bytes of data, each p's low byte. */
export function rec(p: number, size = 40): StoredRecord {
  return { position: BigInt(p), arrivalMs: T + p, partitionKey: `pk-${p}`, data: Buffer.alloc(size, p & 0xff), keyId: 0 };
}
/** `count` records of a shard from position `from` on. */
export function entries(shard: ShardRef, from: number, count: number, size = 40): AppendEntry[] {
  return Array.from({ length: count }, (_, i) => ({ shard, record: rec(from + i, size) }));
}
export const positions = (rs: readonly StoredRecord[]): number[] => rs.map((r) => Number(r.position));
export const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
