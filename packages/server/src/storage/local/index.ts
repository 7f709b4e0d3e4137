/**
 * The embedded durable engine (DESIGN.md "Storage", "Choices worth knowing"): one LMDB
 * environment under `<dataDir>/lmdb`, with two named databases.
 *
 * `log`: every shard of every stream, one entry per record.
 *   key   (16 bytes)  streamId u32 BE | shardIndex u32 BE | position u64 BE
 *         so a shard is one contiguous, position-ordered key range, and trimming is a range delete.
 *   value (13 + n)    format u8 (=1) | arrivalMs u48 BE | keyId u32 BE | partition key length u16 BE
 *                     | partition key (UTF-8) | data
 *   Both are raw bytes written as they are and read through our own codec (logKeyCodec,
 *   logValueCodec): no msgpack, no structured clone, one copy of the data per record read.
 *
 * `meta`: MetaStore records. key = the record key in UTF-8 (byte order = `list` order),
 *   value = version u48 BE | JSON of the value.
 *
 * Durability. lmdb-js defaults to `overlappingSync: true` on Linux, and in that mode a write's
 * promise resolves when the transaction is *committed* (visible), before it is flushed: the fsync
 * runs after the write lock is released, and only `db.flushed` / `separateFlushed` promises wait
 * for it (node_modules/lmdb/README.md "overlappingSync"; write.js resolves commit promises on
 * TXN_COMMITTED). We turn it off. Then the writer thread begins every transaction without
 * MDB_NOSYNC and `mdb_txn_commit` writes the dirty pages, fdatasync()s the data file and writes the
 * meta page through the O_DSYNC descriptor before it returns (mdb.c, mdb_txn_commit /
 * mdb_env_write_meta), and only after that does the worker flag TXN_COMMITTED and the promise
 * resolve (src/writer.cpp, WriteWorker::Write). We never set `noSync`, `noMetaSync` or
 * `useWritemap`; `commitDelay` stays 0. So `append` resolves only after its records are on disk.
 *
 * Group commit. Every `append` is one `transaction()` callback; lmdb-js runs all callbacks queued
 * while the previous commit was syncing in the *same* LMDB transaction, so concurrent appends share
 * one fsync (bench/storage.mjs counts appends per fdatasync). A callback's writes are all in one
 * transaction, so after a crash an append is there entirely or not at all, and LMDB's copy-on-write
 * B-tree with a synced meta page never exposes a half-written record.
 *
 * Memory. The map is read-only (no `useWritemap`): dirty pages live in malloc'd buffers only until
 * commit and are written with pwrite, so RssAnon stays flat as the store grows (~60 MiB measured
 * at 1 M and 10 M records). `mapSize` is 1 TiB of address space, not of disk: without writemap
 * LMDB never extends the file to the map size. We do not let lmdb-js grow the map from its 128 KiB
 * default: its growth (mdb_page_alloc, mdb_env_set_mapsize in its fork of mdb.c) deliberately
 * never unmaps the previous map, so every doubling leaves one more mapping of data.mdb behind,
 * still holding its resident pages (measured: 11 mappings and 400 MiB of RssFile for a 235 MiB
 * file at 1 M records). Beyond 1 TiB lmdb-js still grows it. `noReadAhead` (MADV_RANDOM) keeps a
 * B-tree page fault from reading a whole read-ahead window from disk. Pages of the map that are
 * touched count as RssFile until the kernel reclaims them: that is clean, shared page cache of
 * data.mdb (the writer re-reads each leaf it appends to, so it tracks the file size), not
 * process memory; bench/storage.mjs reports RssAnon and RssFile separately.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import {
  VersionConflictError,
  type AppendEntry,
  type LogStore,
  type MetaStore,
  type ReadLimits,
  type ShardRef,
  type Storage,
  type StoredRecord,
  type Versioned,
} from '../types.js';

export interface LocalStorageOptions {
  /** Directory for the data; the LMDB files go to `<dataDir>/lmdb/`. Created if missing. */
  readonly dataDir: string;
}

export async function openLocalStorage(options: LocalStorageOptions): Promise<Storage> {
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new TypeError('openLocalStorage: dataDir must be a non-empty path');
  }
  const path = join(options.dataDir, 'lmdb');
  mkdirSync(path, { recursive: true });
  // `noReadAhead` is a real lmdb-js option (README "noReadAhead", MDB_NORDAHEAD) missing from its typings.
  const lmdbOptions: Parameters<typeof open>[0] & { readonly noReadAhead: boolean } = {
    path,
    // The path is a directory even when its name has a dot in it (lmdb-js guesses from the extension).
    noSubdir: false,
    overlappingSync: false,
    noReadAhead: true,
    mapSize: 2 ** 40,
    maxDbs: 4,
  };
  const root: RootDatabase = open(lmdbOptions);
  // `keyEncoder`/`encoder` are lmdb-js options (README "Custom Key Encoding"; open.js) its typings leave out.
  const logOptions: DatabaseOptions & { readonly name: string; readonly keyEncoder: unknown; readonly encoder: unknown } = {
    name: 'log',
    keyEncoder: logKeyCodec,
    encoder: logValueCodec,
  };
  const logDb: LogDb = root.openDB(logOptions);
  const metaDb = root.openDB<Uint8Array, Uint8Array>({ name: 'meta', encoding: 'binary', keyEncoding: 'binary' });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= root.close());
  return {
    log: new LmdbLogStore(logDb, close),
    meta: new LmdbMetaStore(metaDb, close),
    close,
  };
}

// ------------------------------------------------------------------------------------ log codec

const KEY_BYTES = 16;
const HEADER_BYTES = 13;
const FORMAT = 1;
const MAX_U32 = 0xffff_ffff;
const MAX_U64 = (1n << 64n) - 1n;
const MAX_ARRIVAL = 2 ** 48 - 1;
const MAX_PARTITION_KEY_BYTES = 0xffff;
/** Keys deleted per transaction by trim/dropShard, so that a huge delete never holds the writer long. */
const DELETE_CHUNK = 4096;

function checkShard(s: ShardRef): void {
  if (!Number.isInteger(s.streamId) || s.streamId < 0 || s.streamId > MAX_U32) {
    throw new RangeError(`streamId must be an integer in [0, 2^32): ${s.streamId}`);
  }
  if (!Number.isInteger(s.shardIndex) || s.shardIndex < 0 || s.shardIndex > MAX_U32) {
    throw new RangeError(`shardIndex must be an integer in [0, 2^32): ${s.shardIndex}`);
  }
}

function writeKey(buf: Buffer, at: number, s: ShardRef, position: bigint): void {
  buf.writeUInt32BE(s.streamId, at);
  buf.writeUInt32BE(s.shardIndex, at + 4);
  buf.writeBigUInt64BE(position, at + 8);
}

function keyOf(s: ShardRef, position: bigint): Buffer {
  const b = Buffer.allocUnsafe(KEY_BYTES);
  writeKey(b, 0, s, position);
  return b;
}

/** The 8-byte shard prefix: sorts before every key of the shard. */
function shardLow(s: ShardRef): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(s.streamId, 0);
  b.writeUInt32BE(s.shardIndex, 4);
  return b;
}

/** Prefix + 8×0xff + 0x00: sorts after every key of the shard (even position 2^64-1), before the next shard. */
function shardHigh(s: ShardRef): Buffer {
  const b = Buffer.alloc(17, 0xff);
  b.writeUInt32BE(s.streamId, 0);
  b.writeUInt32BE(s.shardIndex, 4);
  b[16] = 0;
  return b;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** A record as read back; `position` is filled in from the key after the value is decoded. */
class LogRecord implements StoredRecord {
  position = 0n;
  constructor(
    readonly arrivalMs: number,
    readonly keyId: number,
    readonly partitionKey: string,
    readonly data: Buffer,
  ) {}
}

/**
 * How the `log` database turns bytes into keys and values. With lmdb-js's own `binary` encodings
 * every entry read costs two fresh ArrayBuffers (key and value are each copied with
 * Uint8Array#slice, about 1.7 µs apiece here), which capped range reads at ~150,000 records/s.
 * A custom key/value codec is handed lmdb-js's shared read buffer instead
 * (`decoderCopies`, read.js), so a record costs one pooled Buffer for its data and nothing else.
 */
const logKeyCodec = {
  writeKey(key: unknown, target: Uint8Array, start: number): number {
    // Every key lmdb-js writes here is one of ours: all range scans below run synchronously, so
    // lmdb-js never re-positions a cursor from a key it decoded (read.js, resetReadTxn).
    if (!(key instanceof Uint8Array)) throw new TypeError('log keys are written as bytes');
    target.set(key, start);
    return start + key.length;
  },
  /** Only the position: every range we read lies within one shard. */
  readKey(target: Uint8Array, start: number, end: number): bigint {
    if (end - start !== KEY_BYTES) throw new Error(`corrupt log key (${end - start} bytes)`);
    return asBuffer(target).readBigUInt64BE(start + 8);
  },
};

const logValueCodec = {
  /** Values are encoded by encodeBatch; lmdb-js stores the bytes as they are. */
  encode(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) throw new TypeError('log values are written as bytes');
    return value;
  },
  /**
   * `bytes` may be lmdb-js's shared buffer (valid until the next read) or a view of the map
   * (valid while the read transaction lives): copy the data out, exactly once.
   */
  decode(bytes: Uint8Array, size?: number): LogRecord {
    const b = asBuffer(bytes);
    const n = size ?? b.byteLength;
    if (n < HEADER_BYTES || b[0] !== FORMAT) throw new Error('corrupt log record');
    const pkEnd = HEADER_BYTES + b.readUInt16BE(11);
    if (pkEnd > n) throw new Error('corrupt log record');
    const data = Buffer.allocUnsafe(n - pkEnd);
    b.copy(data, 0, pkEnd, n);
    return new LogRecord(b.readUIntBE(1, 6), b.readUInt32BE(7), b.toString('utf8', HEADER_BYTES, pkEnd), data);
  },
};

function positionOf(key: unknown): bigint {
  if (typeof key !== 'bigint') throw new Error('log key did not decode to a position');
  return key;
}

function recordOf(key: unknown, value: unknown): LogRecord {
  if (!(value instanceof LogRecord)) throw new Error('log value did not decode to a record');
  value.position = positionOf(key);
  return value;
}

interface ShardSpan {
  readonly shard: ShardRef;
  readonly first: bigint;
  last: bigint;
}

/** Keys and values of one append, encoded (and validated) before the transaction starts. */
interface EncodedBatch {
  readonly keys: Buffer[];
  readonly values: Buffer[];
  readonly spans: ShardSpan[];
}

function encodeBatch(entries: readonly AppendEntry[]): EncodedBatch {
  const n = entries.length;
  const pkBytes = new Array<number>(n);
  let total = 0;
  const spans = new Map<string, ShardSpan>();
  for (let i = 0; i < n; i++) {
    const { shard, record } = entries[i]!;
    checkShard(shard);
    const p = record.position;
    if (typeof p !== 'bigint' || p < 0n || p > MAX_U64) throw new RangeError(`position must be a bigint in [0, 2^64): ${String(p)}`);
    if (!Number.isInteger(record.arrivalMs) || record.arrivalMs < 0 || record.arrivalMs > MAX_ARRIVAL) {
      throw new RangeError(`arrivalMs must be an integer in [0, 2^48): ${record.arrivalMs}`);
    }
    if (!Number.isInteger(record.keyId) || record.keyId < 0 || record.keyId > MAX_U32) {
      throw new RangeError(`keyId must be an integer in [0, 2^32): ${record.keyId}`);
    }
    const pk = Buffer.byteLength(record.partitionKey, 'utf8');
    if (pk > MAX_PARTITION_KEY_BYTES) throw new RangeError(`partition key longer than ${MAX_PARTITION_KEY_BYTES} bytes`);
    pkBytes[i] = pk;
    total += HEADER_BYTES + pk + record.data.byteLength;
    const id = `${shard.streamId}/${shard.shardIndex}`;
    const span = spans.get(id);
    if (span === undefined) spans.set(id, { shard, first: p, last: p });
    else if (p <= span.last) {
      throw new RangeError(`positions must be strictly increasing per shard: ${p} after ${span.last} in shard ${id}`);
    } else span.last = p;
  }
  // One allocation for all keys and one for all values; each entry is a view into them.
  const keyBuf = Buffer.allocUnsafeSlow(n * KEY_BYTES);
  const valBuf = Buffer.allocUnsafeSlow(total);
  const keys = new Array<Buffer>(n);
  const values = new Array<Buffer>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const { shard, record } = entries[i]!;
    writeKey(keyBuf, i * KEY_BYTES, shard, record.position);
    keys[i] = keyBuf.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
    const pk = pkBytes[i]!;
    const start = at;
    valBuf[at] = FORMAT;
    valBuf.writeUIntBE(record.arrivalMs, at + 1, 6);
    valBuf.writeUInt32BE(record.keyId, at + 7);
    valBuf.writeUInt16BE(pk, at + 11);
    at += HEADER_BYTES;
    at += valBuf.write(record.partitionKey, at, pk, 'utf8');
    valBuf.set(record.data, at);
    at += record.data.byteLength;
    values[i] = valBuf.subarray(start, at);
  }
  return { keys, values, spans: [...spans.values()] };
}

// ------------------------------------------------------------------------------------ log store

/** Written with Uint8Array keys and values; read back as (position, LogRecord) by the codecs above. */
type LogDb = Database<unknown, Uint8Array>;

class LmdbLogStore implements LogStore {
  readonly #db: LogDb;
  readonly #close: () => Promise<void>;

  constructor(db: LogDb, close: () => Promise<void>) {
    this.#db = db;
    this.#close = close;
  }

  async append(entries: readonly AppendEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Everything that can throw on bad input happens here, outside the transaction: an lmdb-js
    // `transaction` is not rolled back when its callback throws, so a throw halfway through the
    // puts would commit part of the append.
    const batch = encodeBatch(entries);
    const db = this.#db;
    const clash = await db.transaction(() => {
      // Inside the write transaction, so earlier appends of the same group commit are visible:
      // refuse (before writing anything) rather than overwrite a stored record.
      for (const span of batch.spans) {
        const last = this.#lastPositionNow(span.shard);
        if (last !== undefined && span.first <= last) return { span, last };
      }
      const { keys, values } = batch;
      for (let i = 0; i < keys.length; i++) db.putSync(keys[i]!, values[i]!);
      return undefined;
    });
    if (clash !== undefined) {
      const { span, last } = clash;
      throw new RangeError(
        `position ${span.first} is not above the last stored position ${last} of shard ${span.shard.streamId}/${span.shard.shardIndex}`,
      );
    }
  }

  async read(shard: ShardRef, from: bigint, limits: ReadLimits): Promise<StoredRecord[]> {
    checkShard(shard);
    const out: StoredRecord[] = [];
    if (!(limits.maxRecords >= 1) || from > MAX_U64) return out;
    const start = keyOf(shard, from < 0n ? 0n : from);
    let bytes = 0;
    // getRange is lazy: values are decoded one entry at a time, so stopping on the byte limit
    // copies nothing past the last record returned.
    const range = this.#db.getRange({ start, end: shardHigh(shard), limit: Math.floor(Math.min(limits.maxRecords, MAX_U32)) });
    for (const { key, value } of range) {
      const rec = recordOf(key, value);
      out.push(rec);
      bytes += rec.data.byteLength + Buffer.byteLength(rec.partitionKey, 'utf8');
      if (bytes >= limits.maxBytes) break;
    }
    return out;
  }

  async lastPosition(shard: ShardRef): Promise<bigint | undefined> {
    checkShard(shard);
    return this.#lastPositionNow(shard);
  }

  #lastPositionNow(shard: ShardRef): bigint | undefined {
    for (const key of this.#db.getKeys({ start: keyOf(shard, MAX_U64), end: shardLow(shard), reverse: true, limit: 1 })) {
      return positionOf(key);
    }
    return undefined;
  }

  /** The first record at or after `position`, or undefined past the end of the shard. */
  #firstFrom(shard: ShardRef, position: bigint, end: Buffer): StoredRecord | undefined {
    if (position > MAX_U64) return undefined;
    for (const { key, value } of this.#db.getRange({ start: keyOf(shard, position), end, limit: 1 })) {
      return recordOf(key, value);
    }
    return undefined;
  }

  async positionAtTime(shard: ShardRef, atMs: number): Promise<bigint | undefined> {
    checkShard(shard);
    if (Number.isNaN(atMs)) throw new RangeError('atMs must be a number of epoch milliseconds, not NaN');
    const end = shardHigh(shard);
    const first = this.#firstFrom(shard, 0n, end);
    if (first === undefined) return undefined;
    if (first.arrivalMs >= atMs) return first.position;
    const last = this.#lastPositionNow(shard);
    if (last === undefined) return undefined;
    // Binary search over positions (arrival is non-decreasing within a shard). P(p) = "the first
    // record at or after p has arrival >= atMs, or there is none" is monotone in p; P(lo) is false
    // and P(hi) true, and the answer is the first record at or after the smallest p with P(p).
    // Gaps left by trims are skipped by moving lo to the record actually found.
    let lo = first.position;
    let hi = last + 1n;
    while (hi - lo > 1n) {
      const mid = lo + (hi - lo) / 2n;
      const rec = this.#firstFrom(shard, mid, end);
      if (rec === undefined || rec.arrivalMs >= atMs) hi = mid;
      else lo = rec.position;
    }
    return this.#firstFrom(shard, hi, end)?.position;
  }

  async trim(shard: ShardRef, before: bigint): Promise<void> {
    checkShard(shard);
    if (before <= 0n) return;
    await this.#deleteRange(shard, shardLow(shard), before > MAX_U64 ? shardHigh(shard) : keyOf(shard, before));
  }

  async dropShard(shard: ShardRef): Promise<void> {
    checkShard(shard);
    await this.#deleteRange(shard, shardLow(shard), shardHigh(shard));
  }

  /** Deletes [from, before) of a shard in transactions of at most DELETE_CHUNK keys; appends interleave between them. */
  async #deleteRange(shard: ShardRef, start: Buffer, end: Buffer): Promise<void> {
    const db = this.#db;
    for (;;) {
      const removed = await db.transaction(() => {
        // Collect first: deleting under a live cursor of the same transaction could skip entries.
        const positions: bigint[] = [];
        for (const key of db.getKeys({ start, end, limit: DELETE_CHUNK })) positions.push(positionOf(key));
        for (const p of positions) db.removeSync(keyOf(shard, p));
        return positions.length;
      });
      if (removed < DELETE_CHUNK) return;
    }
  }

  close(): Promise<void> {
    return this.#close();
  }
}

// ------------------------------------------------------------------------------------ meta store

const VERSION_BYTES = 6;
const MAX_META_KEY_BYTES = 1024;

function metaKey(key: string): Buffer {
  const b = Buffer.from(key, 'utf8');
  if (b.length === 0 || b.length > MAX_META_KEY_BYTES) {
    throw new RangeError(`meta key must be 1..${MAX_META_KEY_BYTES} UTF-8 bytes: ${JSON.stringify(key)}`);
  }
  return b;
}

function checkExpected(expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && (!Number.isInteger(expectedVersion) || expectedVersion < 0)) {
    throw new RangeError(`expectedVersion must be a non-negative integer: ${expectedVersion}`);
  }
}

function versionOf(stored: Uint8Array | undefined): number {
  return stored === undefined ? 0 : asBuffer(stored).readUIntBE(0, VERSION_BYTES);
}

function decodeMeta<T>(key: string, stored: Uint8Array): Versioned<T> {
  const b = asBuffer(stored);
  return { key, version: b.readUIntBE(0, VERSION_BYTES), value: JSON.parse(b.toString('utf8', VERSION_BYTES)) as T };
}

class LmdbMetaStore implements MetaStore {
  readonly #db: Database<Uint8Array, Uint8Array>;
  readonly #close: () => Promise<void>;

  constructor(db: Database<Uint8Array, Uint8Array>, close: () => Promise<void>) {
    this.#db = db;
    this.#close = close;
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const stored = this.#db.get(metaKey(key));
    return stored === undefined ? undefined : decodeMeta<T>(key, stored);
  }

  async list<T>(prefix: string): Promise<Versioned<T>[]> {
    const p = Buffer.from(prefix, 'utf8');
    // 0xff never occurs in UTF-8, so prefix + 0xff is above every key that starts with prefix.
    const range = p.length === 0 ? this.#db.getRange({}) : this.#db.getRange({ start: p, end: Buffer.concat([p, Buffer.from([0xff])]) });
    const out: Versioned<T>[] = [];
    for (const { key, value } of range) out.push(decodeMeta<T>(asBuffer(key).toString('utf8'), value));
    return out;
  }

  async put<T>(key: string, value: T, expectedVersion?: number): Promise<number> {
    const k = metaKey(key);
    checkExpected(expectedVersion);
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`meta value for ${key} is not JSON-serialisable`);
    const body = Buffer.from(json, 'utf8');
    const db = this.#db;
    // Read, compare and write inside one write transaction: no other write can come in between.
    const next = await db.transaction(() => {
      const current = versionOf(db.get(k));
      if (expectedVersion !== undefined && current !== expectedVersion) return -1;
      const v = current + 1;
      const stored = Buffer.allocUnsafe(VERSION_BYTES + body.length);
      stored.writeUIntBE(v, 0, VERSION_BYTES);
      body.copy(stored, VERSION_BYTES);
      db.putSync(k, stored);
      return v;
    });
    if (next < 0) throw new VersionConflictError(key);
    return next;
  }

  /** With expectedVersion, the record must be at that version (0 = absent, which deletes nothing). */
  async delete(key: string, expectedVersion?: number): Promise<void> {
    const k = metaKey(key);
    checkExpected(expectedVersion);
    const db = this.#db;
    const ok = await db.transaction(() => {
      const stored = db.get(k);
      if (expectedVersion !== undefined && versionOf(stored) !== expectedVersion) return false;
      if (stored !== undefined) db.removeSync(k);
      return true;
    });
    if (!ok) throw new VersionConflictError(key);
  }

  close(): Promise<void> {
    return this.#close();
  }
}
