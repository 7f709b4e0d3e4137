/**
 * The in-memory engine (`--memory`, fast tests): the same contract as local/ with nothing on disk.
 * Each shard is an array sorted by position (appends only ever add at the end), searched by
 * binary search. Inputs are validated exactly as local/ validates them, and records and meta values
 * are copied on the way in, so code that passes its tests here behaves the same on local/.
 */
import { columnEntries } from '../columns.js';
import { checkExpected, metaKeyBytes } from '../meta-checks.js';
import {
  VersionConflictError,
  type AppendEntry,
  type ColumnAppend,
  type LogStore,
  type MetaStore,
  type ReadLimits,
  type ShardRef,
  type Storage,
  type StoredRecord,
  type Versioned,
} from '../types.js';

export function openMemoryStorage(): Storage {
  const state = { closed: false };
  const close = async (): Promise<void> => {
    state.closed = true;
  };
  return { log: new MemoryLogStore(state), meta: new MemoryMetaStore(state), close };
}

interface OpenState {
  closed: boolean;
}

function checkOpen(state: OpenState): void {
  if (state.closed) throw new Error('storage is closed');
}

const MAX_U32 = 0xffff_ffff;
const MAX_U64 = (1n << 64n) - 1n;
const MAX_ARRIVAL = 2 ** 48 - 1;
const MAX_PARTITION_KEY_BYTES = 0xffff;

function checkShard(s: ShardRef): void {
  if (!Number.isInteger(s.streamId) || s.streamId < 0 || s.streamId > MAX_U32) {
    throw new RangeError(`streamId must be an integer in [0, 2^32): ${s.streamId}`);
  }
  if (!Number.isInteger(s.shardIndex) || s.shardIndex < 0 || s.shardIndex > MAX_U32) {
    throw new RangeError(`shardIndex must be an integer in [0, 2^32): ${s.shardIndex}`);
  }
}

function checkRecord(r: StoredRecord): void {
  const p = r.position;
  if (typeof p !== 'bigint' || p < 0n || p > MAX_U64) throw new RangeError(`position must be a bigint in [0, 2^64): ${String(p)}`);
  if (!Number.isInteger(r.arrivalMs) || r.arrivalMs < 0 || r.arrivalMs > MAX_ARRIVAL) {
    throw new RangeError(`arrivalMs must be an integer in [0, 2^48): ${r.arrivalMs}`);
  }
  if (!Number.isInteger(r.keyId) || r.keyId < 0 || r.keyId > MAX_U32) {
    throw new RangeError(`keyId must be an integer in [0, 2^32): ${r.keyId}`);
  }
  if (Buffer.byteLength(r.partitionKey, 'utf8') > MAX_PARTITION_KEY_BYTES) {
    throw new RangeError(`partition key longer than ${MAX_PARTITION_KEY_BYTES} bytes`);
  }
}

const shardId = (s: ShardRef): string => `${s.streamId}/${s.shardIndex}`;

/** Index of the first record with position >= p (records.length if none). */
function lowerBound(records: readonly StoredRecord[], p: bigint): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.position < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class MemoryLogStore implements LogStore {
  readonly #state: OpenState;
  readonly #shards = new Map<string, StoredRecord[]>();

  constructor(state: OpenState) {
    this.#state = state;
  }

  async appendColumns(batch: ColumnAppend): Promise<void> {
    checkOpen(this.#state);
    return this.append(columnEntries(batch));
  }

  async append(entries: readonly AppendEntry[]): Promise<void> {
    checkOpen(this.#state);
    // Validate the whole call before changing anything: all-or-nothing, as on disk.
    const lastSeen = new Map<string, bigint>();
    for (const { shard, record } of entries) {
      checkShard(shard);
      checkRecord(record);
      const id = shardId(shard);
      let last = lastSeen.get(id);
      if (last === undefined) {
        const records = this.#shards.get(id);
        last = records?.[records.length - 1]?.position;
        if (last !== undefined && record.position <= last) {
          throw new RangeError(`position ${record.position} is not above the last stored position ${last} of shard ${id}`);
        }
      } else if (record.position <= last) {
        throw new RangeError(`positions must be strictly increasing per shard: ${record.position} after ${last} in shard ${id}`);
      }
      lastSeen.set(id, record.position);
    }
    for (const { shard, record } of entries) {
      const id = shardId(shard);
      let records = this.#shards.get(id);
      if (records === undefined) this.#shards.set(id, (records = []));
      // Copy, so a caller reusing its buffers cannot change what was "stored".
      records.push({
        position: record.position,
        arrivalMs: record.arrivalMs,
        partitionKey: record.partitionKey,
        data: Uint8Array.prototype.slice.call(record.data),
        keyId: record.keyId,
      });
    }
  }

  async read(shard: ShardRef, from: bigint, limits: ReadLimits): Promise<StoredRecord[]> {
    checkOpen(this.#state);
    checkShard(shard);
    const out: StoredRecord[] = [];
    const records = this.#shards.get(shardId(shard));
    if (records === undefined || !(limits.maxRecords >= 1)) return out;
    let bytes = 0;
    for (let i = lowerBound(records, from); i < records.length && out.length < limits.maxRecords; i++) {
      const rec = records[i]!;
      out.push(rec);
      bytes += rec.data.byteLength + Buffer.byteLength(rec.partitionKey, 'utf8');
      if (bytes >= limits.maxBytes) break;
    }
    return out;
  }

  async lastPosition(shard: ShardRef): Promise<bigint | undefined> {
    checkOpen(this.#state);
    checkShard(shard);
    const records = this.#shards.get(shardId(shard));
    return records?.[records.length - 1]?.position;
  }

  async positionAtTime(shard: ShardRef, atMs: number): Promise<bigint | undefined> {
    checkOpen(this.#state);
    checkShard(shard);
    if (Number.isNaN(atMs)) throw new RangeError('atMs must be a number of epoch milliseconds, not NaN');
    const records = this.#shards.get(shardId(shard)) ?? [];
    // Arrival is non-decreasing within a shard, so the first record at or after atMs is found by bisection.
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid]!.arrivalMs < atMs) lo = mid + 1;
      else hi = mid;
    }
    return records[lo]?.position;
  }

  async trim(shard: ShardRef, before: bigint): Promise<void> {
    checkOpen(this.#state);
    checkShard(shard);
    const id = shardId(shard);
    const records = this.#shards.get(id);
    if (records === undefined) return;
    records.splice(0, lowerBound(records, before));
    if (records.length === 0) this.#shards.delete(id);
  }

  async dropShard(shard: ShardRef): Promise<void> {
    checkOpen(this.#state);
    checkShard(shard);
    this.#shards.delete(shardId(shard));
  }

  async close(): Promise<void> {
    this.#state.closed = true;
  }
}

const checkMetaKey = metaKeyBytes;

interface MetaEntry {
  /** UTF-8 bytes of the key: `list` orders by them, as LMDB does. */
  readonly keyBytes: Buffer;
  /** Stored as JSON text, so values round-trip exactly as they do through local/. */
  readonly json: string;
  readonly version: number;
}

class MemoryMetaStore implements MetaStore {
  readonly #state: OpenState;
  readonly #entries = new Map<string, MetaEntry>();

  constructor(state: OpenState) {
    this.#state = state;
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    checkOpen(this.#state);
    checkMetaKey(key);
    const e = this.#entries.get(key);
    return e === undefined ? undefined : { key, value: JSON.parse(e.json) as T, version: e.version };
  }

  async list<T>(prefix: string): Promise<Versioned<T>[]> {
    checkOpen(this.#state);
    const matches = [...this.#entries].filter(([k]) => k.startsWith(prefix));
    matches.sort(([, a], [, b]) => Buffer.compare(a.keyBytes, b.keyBytes));
    return matches.map(([key, e]) => ({ key, value: JSON.parse(e.json) as T, version: e.version }));
  }

  async put<T>(key: string, value: T, expectedVersion?: number): Promise<number> {
    checkOpen(this.#state);
    const keyBytes = checkMetaKey(key);
    checkExpected(expectedVersion);
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`meta value for ${key} is not JSON-serialisable`);
    const current = this.#entries.get(key)?.version ?? 0;
    if (expectedVersion !== undefined && current !== expectedVersion) throw new VersionConflictError(key);
    const version = current + 1;
    this.#entries.set(key, { keyBytes, json, version });
    return version;
  }

  async delete(key: string, expectedVersion?: number): Promise<void> {
    checkOpen(this.#state);
    checkMetaKey(key);
    checkExpected(expectedVersion);
    const current = this.#entries.get(key)?.version ?? 0;
    if (expectedVersion !== undefined && current !== expectedVersion) throw new VersionConflictError(key);
    this.#entries.delete(key);
  }

  async close(): Promise<void> {
    this.#state.closed = true;
  }
}
