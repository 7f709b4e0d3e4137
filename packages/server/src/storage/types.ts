/**
 * The storage seam (DESIGN.md "Storage"). Operations never see an engine, only these interfaces,
 * so the embedded engine (local/), the in-memory one (memory/) and a NATS JetStream one can be
 * swapped without touching src/streams.
 */

/** A shard's log, named by the stream's internal numeric id (never reused) and the shard index. */
export interface ShardRef {
  readonly streamId: number;
  readonly shardIndex: number;
}

/** One record as stored. `position` is the per-shard counter inside the sequence number. */
export interface StoredRecord {
  readonly position: bigint;
  /** Server arrival time, epoch milliseconds; non-decreasing within a shard. */
  readonly arrivalMs: number;
  readonly partitionKey: string;
  /** The bytes as stored: ciphertext when `keyId` is set. */
  readonly data: Uint8Array;
  /** Local key-store id of the data key that encrypted `data`; 0 when stored in clear. */
  readonly keyId: number;
}

export interface AppendEntry {
  readonly shard: ShardRef;
  readonly record: StoredRecord;
}

/**
 * An append given column by column, the PutRecords hot path: the records' bytes stay in two
 * buffers and are found by offsets, with no object per record. Record i's data is
 * data[bounds[4i], bounds[4i+1]) and its partition key (UTF-8) keys[bounds[4i+2], bounds[4i+3]).
 * The records of a part go to its shard in the order given, at positions first, first + 1, ...,
 * all arriving at arrivalMs.
 */
export interface ColumnAppend {
  /** Local key-store id of the data key that encrypted every record's data; 0 when stored in clear. */
  readonly keyId: number;
  readonly data: Buffer;
  readonly keys: Buffer;
  readonly bounds: Int32Array;
  readonly parts: readonly ColumnPart[];
}

export interface ColumnPart {
  readonly shard: ShardRef;
  readonly first: bigint;
  readonly arrivalMs: number;
  /** Indexes of the part's records in the columns. */
  readonly records: readonly number[];
}

export interface ReadLimits {
  /** At most this many records. */
  readonly maxRecords: number;
  /** Stop after the record that brings the total of data + partition key bytes to this or beyond. */
  readonly maxBytes: number;
}

export interface LogStore {
  /**
   * Appends records, possibly to many shards. Resolves only once every record is durable
   * (fsync'd; concurrent calls share one sync). All-or-nothing: after a crash either every entry
   * of the call is present or none is. Positions must be strictly increasing per shard across calls.
   */
  append(entries: readonly AppendEntry[]): Promise<void>;
  /** `append`, with the records given column by column; the same guarantees. */
  appendColumns(batch: ColumnAppend): Promise<void>;
  /** Records of one shard with position >= from, in position order, within limits. */
  read(shard: ShardRef, from: bigint, limits: ReadLimits): Promise<StoredRecord[]>;
  /** The highest stored position of a shard, or undefined if it holds none. */
  lastPosition(shard: ShardRef): Promise<bigint | undefined>;
  /** The position of the first record whose arrival is >= atMs, or undefined if none. */
  positionAtTime(shard: ShardRef, atMs: number): Promise<bigint | undefined>;
  /** Deletes every record of the shard with position < before. */
  trim(shard: ShardRef, before: bigint): Promise<void>;
  /** Deletes the whole shard. */
  dropShard(shard: ShardRef): Promise<void>;
  close(): Promise<void>;
}

export interface Versioned<T> {
  readonly key: string;
  readonly value: T;
  /** Starts at 1 on create, +1 on every put. */
  readonly version: number;
}

/** Thrown by MetaStore writes whose expected version does not match. */
export class VersionConflictError extends Error {
  constructor(key: string) {
    super(`version conflict on ${key}`);
    this.name = 'VersionConflictError';
  }
}

/**
 * Small JSON-serialisable records (streams, shards, consumers, tags, keys, settings) with
 * compare-and-set. Writes resolve once durable.
 */
export interface MetaStore {
  get<T>(key: string): Promise<Versioned<T> | undefined>;
  /** Every record whose key starts with prefix, in key order. */
  list<T>(prefix: string): Promise<Versioned<T>[]>;
  /**
   * Writes a record. expectedVersion: undefined = unconditional, 0 = must not exist,
   * n = must currently be at version n. Returns the new version.
   */
  put<T>(key: string, value: T, expectedVersion?: number): Promise<number>;
  /** Deletes a record (no-op when absent unless expectedVersion is given). */
  delete(key: string, expectedVersion?: number): Promise<void>;
  close(): Promise<void>;
}

export interface Storage {
  readonly log: LogStore;
  readonly meta: MetaStore;
  close(): Promise<void>;
}
