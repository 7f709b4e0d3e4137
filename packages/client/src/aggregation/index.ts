// KPL aggregation format (checklist section 2): magic F3 89 9A C2, a proto2 `AggregatedRecord`,
// then the MD5 of the protobuf bytes. The protobuf codec is hand-written (see proto.ts) so the
// client needs no protobuf runtime.
import { createHash } from 'node:crypto';
import {
  decodeAggregatedRecord,
  encodedRecordSize,
  fieldSize,
  ProtoError,
  writeBytesField,
  writeStringField,
  writeTag,
  writeVarint,
} from './proto.js';

export interface UserRecord {
  partitionKey: string;
  explicitHashKey?: string | undefined;
  /** Bytes, or a string sent as its UTF-8 bytes. */
  data: Uint8Array | string;
}

/** One Kinesis record as PutRecords takes it. */
export interface KinesisRecordOut {
  partitionKey: string;
  explicitHashKey: string;
  data: Buffer;
}

export interface DeaggregatedRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  subSequenceNumber: number;
  aggregated: boolean;
}

export const KPL_MAGIC: Uint8Array = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const DIGEST_SIZE = 16;
/** Magic + MD5 trailer: the KPL's `kFixedOverhead`. */
export const AGGREGATION_OVERHEAD = KPL_MAGIC.length + DIGEST_SIZE;

/** KPL defaults (checklist 2.2): AggregationMaxSize and AggregationMaxCount. */
export const defaultAggregatorOptions = {
  maxBytes: 51200,
  maxCount: 4294967295,
} as const satisfies AggregatorOptions;

export interface AggregatorOptions {
  /** Largest aggregated Kinesis record (data plus partition key), bytes. */
  maxBytes?: number;
  /** Most user records in one aggregated record. */
  maxCount?: number;
}

const MAX_HASH_KEY = (1n << 128n) - 1n;

/**
 * The hash key Kinesis routes a record by: the explicit hash key if given (decimal), else the MD5
 * of the partition key's UTF-8 bytes read as an unsigned big-endian 128-bit integer (checklist 2.3).
 */
export function effectiveHashKey(partitionKey: string, explicitHashKey?: string): bigint {
  if (explicitHashKey !== undefined) {
    if (!/^\d{1,39}$/.test(explicitHashKey)) throw new RangeError(`explicitHashKey: not a decimal 128-bit integer: ${explicitHashKey}`);
    const v = BigInt(explicitHashKey);
    if (v > MAX_HASH_KEY) throw new RangeError(`explicitHashKey: greater than 2^128 - 1: ${explicitHashKey}`);
    return v;
  }
  const d = createHash('md5').update(partitionKey, 'utf8').digest();
  return (d.readBigUInt64BE(0) << 64n) | d.readBigUInt64BE(8);
}

/**
 * Incremental aggregation with exact size accounting (the KPL estimates; we can count exactly
 * because proto2 sizes are known up front). Partition and explicit hash keys are deduplicated in
 * their tables as the KPL does (partition keys through a cache, so a rare collision stores a key
 * twice, which readers accept).
 */
export class Aggregator<R extends UserRecord = UserRecord> {
  readonly maxBytes: number;
  readonly maxCount: number;
  #records: R[] = [];
  #count = 0;
  /** Records in the previous aggregate: the next one's array starts that large (no regrowth). */
  #lastCount = 16;
  // Per record: index into the partition key table and into the hash key table (-1: none). The
  // tables and index arrays are reused from one aggregate to the next (only #records is handed out).
  #pkIdx = new Int32Array(64);
  #ehkIdx = new Int32Array(64);
  /** Per record: its data's length in bytes (UTF-8 for a string). */
  #dataLen = new Int32Array(64);
  #pkTable: string[] = [];
  #pkBytes = new Int32Array(64);
  #pkCount = 0;
  // Partition key deduplication through a direct-mapped cache instead of a Map: no allocation per
  // record (a Map.set cost ~70 bytes of garbage a record in bench/producer.mjs). Keys that collide
  // in it are stored twice, which the format allows (checklist 2.1: deduplication is optional).
  // Entries are valid for the current aggregate only (#slotGen === #gen).
  #slotKey: (string | undefined)[] = new Array<string | undefined>(PK_SLOTS).fill(undefined);
  #slotIdx = new Int32Array(PK_SLOTS);
  #slotGen = new Int32Array(PK_SLOTS);
  #gen = 1;
  #ehkTable: string[] = [];
  #ehkCount = 0;
  #ehkMap = new Map<string, number>();
  #protoSize = 0;
  #firstPkBytes = 0;

  constructor(options: AggregatorOptions = {}) {
    this.maxBytes = options.maxBytes ?? defaultAggregatorOptions.maxBytes;
    this.maxCount = options.maxCount ?? defaultAggregatorOptions.maxCount;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 64) throw new RangeError(`maxBytes: must be an integer ≥ 64, got ${this.maxBytes}`);
    if (!Number.isInteger(this.maxCount) || this.maxCount < 1) throw new RangeError(`maxCount: must be an integer ≥ 1, got ${this.maxCount}`);
  }

  get count(): number {
    return this.#count;
  }

  /** Size of the Kinesis record build() would return now (data + partition key bytes). */
  get size(): number {
    return this.#sizeWith(this.#protoSize, this.#count);
  }

  /** Bytes of the container format (magic + protobuf + MD5) for the records added so far. */
  get containerSize(): number {
    return AGGREGATION_OVERHEAD + this.#protoSize;
  }

  #sizeWith(protoSize: number, count: number): number {
    if (count === 0) return 0;
    if (count === 1) {
      // build() sends a lone record raw, as the KPL does.
      const r = this.#records[0];
      if (r) return (this.#dataLen[0] as number) + this.#firstPkBytes;
    }
    // Multi-record containers carry PartitionKey "a" (1 byte).
    return AGGREGATION_OVERHEAD + protoSize + 1;
  }

  /**
   * Adds `record` if the aggregate stays within maxBytes and maxCount; returns false (and adds
   * nothing) otherwise. An empty aggregator always accepts, so one oversized record still moves on
   * (it is sent raw). `partitionKeyBytes`, the UTF-8 length of the partition key, saves counting
   * it when the caller knows it; `keyHash`, any well-mixed hash of the partition key (the producer
   * has its MD5), saves hashing it for the key table's cache; `dataBytes`, the data's length in
   * bytes, saves counting a string's UTF-8 bytes.
   */
  add(record: R, partitionKeyBytes?: number, keyHash?: number, dataBytes?: number): boolean {
    const count = this.#count;
    if (count >= this.maxCount) return false;
    const pk = record.partitionKey;
    const slot = keyHash === undefined ? keySlot(pk) : keyHash & (PK_SLOTS - 1);
    let pkIdx = this.#slotGen[slot] === this.#gen && this.#slotKey[slot] === pk ? this.#slotIdx[slot] : undefined;
    let extra = 0;
    let pkBytes = 0;
    const newPk = pkIdx === undefined;
    if (pkIdx === undefined) {
      pkBytes = partitionKeyBytes ?? Buffer.byteLength(pk, 'utf8');
      pkIdx = this.#pkCount;
      extra += fieldSize(pkBytes);
    }
    let ehkIdx = -1;
    const ehk = record.explicitHashKey;
    let newEhk = false;
    if (ehk !== undefined) {
      const i = this.#ehkMap.get(ehk);
      if (i === undefined) {
        ehkIdx = this.#ehkCount;
        newEhk = true;
        extra += fieldSize(Buffer.byteLength(ehk, 'utf8'));
      } else ehkIdx = i;
    }
    const data = record.data;
    const dataLen = dataBytes ?? (typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length);
    extra += fieldSize(encodedRecordSize(pkIdx, ehkIdx, dataLen));
    const newProto = this.#protoSize + extra;
    if (count > 0 && AGGREGATION_OVERHEAD + newProto + 1 > this.maxBytes) return false;
    if (count === 0) this.#firstPkBytes = pkBytes;
    if (newPk) {
      if (pkIdx >= this.#pkBytes.length) this.#pkBytes = grow(this.#pkBytes);
      this.#pkTable[pkIdx] = pk;
      this.#pkBytes[pkIdx] = pkBytes;
      this.#pkCount++;
      this.#slotKey[slot] = pk;
      this.#slotIdx[slot] = pkIdx;
      this.#slotGen[slot] = this.#gen;
    }
    if (newEhk && ehk !== undefined) {
      this.#ehkTable[ehkIdx] = ehk;
      this.#ehkCount++;
      this.#ehkMap.set(ehk, ehkIdx);
    }
    if (count >= this.#pkIdx.length) {
      this.#pkIdx = grow(this.#pkIdx);
      this.#ehkIdx = grow(this.#ehkIdx);
      this.#dataLen = grow(this.#dataLen);
    }
    this.#records[count] = record;
    this.#count = count + 1;
    this.#pkIdx[count] = pkIdx;
    this.#ehkIdx[count] = ehkIdx;
    this.#dataLen[count] = dataLen;
    this.#protoSize = newProto;
    return true;
  }

  /** The records added so far, in order (the array is not reused after build() or reset()). */
  records(): readonly R[] {
    const recs = this.#records;
    // Presized (see reset()): cut to what was filled.
    if (recs.length !== this.#count) recs.length = this.#count;
    return recs;
  }

  /**
   * One Kinesis record, serialised as the KPL's `KinesisRecord::serialize` does: a lone user record
   * goes raw with its own partition key; several go in a container with PartitionKey "a" and the
   * first record's effective hash key as ExplicitHashKey. Resets the aggregator.
   */
  build(): KinesisRecordOut {
    const recs = this.records();
    const first = recs[0];
    if (!first) throw new RangeError('Aggregator.build: no records');
    let out: KinesisRecordOut;
    if (recs.length === 1) {
      out = {
        partitionKey: first.partitionKey,
        explicitHashKey: effectiveHashKey(first.partitionKey, first.explicitHashKey).toString(),
        data: toBuffer(first.data),
      };
    } else {
      out = {
        partitionKey: 'a',
        explicitHashKey: effectiveHashKey(first.partitionKey, first.explicitHashKey).toString(),
        data: this.#serialize(),
      };
    }
    this.reset();
    return out;
  }

  /**
   * The container bytes (magic + protobuf + MD5), whatever the count. With `deferred`, the buffer
   * comes from `deferred.alloc` and its MD5 trailer is left for the caller to fill (see
   * `writeDigest`); the producer has it computed off its thread.
   */
  serialize(deferred?: { alloc: (size: number) => Buffer }): Buffer {
    return this.#serialize(deferred);
  }

  #serialize(deferred?: { alloc: (size: number) => Buffer }): Buffer {
    const protoSize = this.#protoSize;
    const buf = deferred ? deferred.alloc(AGGREGATION_OVERHEAD + protoSize) : Buffer.allocUnsafe(AGGREGATION_OVERHEAD + protoSize);
    buf.set(KPL_MAGIC, 0);
    let pos = KPL_MAGIC.length;
    const pkTable = this.#pkTable;
    const pkBytes = this.#pkBytes;
    for (let i = 0; i < this.#pkCount; i++) pos = writeStringField(buf, pos, 1, pkTable[i] as string, pkBytes[i] as number);
    for (let i = 0; i < this.#ehkCount; i++) {
      const ehk = this.#ehkTable[i] as string;
      pos = writeStringField(buf, pos, 2, ehk, Buffer.byteLength(ehk, 'utf8'));
    }
    const recs = this.#records;
    const pkIdxs = this.#pkIdx;
    const ehkIdxs = this.#ehkIdx;
    const dataLens = this.#dataLen;
    for (let i = 0; i < this.#count; i++) {
      const r = recs[i] as R;
      const pkIdx = pkIdxs[i] as number;
      const ehkIdx = ehkIdxs[i] as number;
      const dataLen = dataLens[i] as number;
      pos = writeTag(buf, pos, 3, 2);
      pos = writeVarint(buf, pos, encodedRecordSize(pkIdx, ehkIdx, dataLen));
      pos = writeTag(buf, pos, 1, 0);
      pos = writeVarint(buf, pos, pkIdx);
      if (ehkIdx >= 0) {
        pos = writeTag(buf, pos, 2, 0);
        pos = writeVarint(buf, pos, ehkIdx);
      }
      const data = r.data;
      pos = typeof data === 'string' ? writeStringField(buf, pos, 3, data, dataLen) : writeBytesField(buf, pos, 3, data);
    }
    if (pos !== KPL_MAGIC.length + protoSize) throw new Error(`aggregation: size mismatch ${pos} != ${KPL_MAGIC.length + protoSize}`);
    if (!deferred) writeDigest(buf);
    return buf;
  }

  reset(): void {
    // Capped: V8 makes very long `new Array(n)` slow dictionary arrays; longer ones grow as usual.
    if (this.#count > 0) this.#lastCount = Math.min(this.#count, 8192);
    this.#records = new Array<R>(this.#lastCount);
    this.#count = 0;
    // Stale table entries stay until overwritten; #pkCount and #ehkCount bound what is read.
    this.#pkCount = 0;
    // Invalidates every cache slot at once; on wrap-around, clear them for real.
    if (++this.#gen > 0x7fffffff) {
      this.#gen = 1;
      this.#slotGen.fill(0);
    }
    this.#ehkCount = 0;
    this.#ehkMap.clear();
    this.#protoSize = 0;
    this.#firstPkBytes = 0;
  }
}

/** Fills the MD5 trailer of a container whose magic and protobuf are written. */
export function writeDigest(container: Uint8Array): void {
  const end = container.length - DIGEST_SIZE;
  container.set(createHash('md5').update(container.subarray(KPL_MAGIC.length, end)).digest(), end);
}

const PK_SLOTS = 1024;

/** FNV-1a over the key's length and up to 16 of its last characters, reduced to a cache slot. */
function keySlot(s: string): number {
  const n = s.length;
  let h = 0x811c9dc5 ^ n;
  for (let i = n > 16 ? n - 16 : 0; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) & (PK_SLOTS - 1);
}

/** A record's data as a Buffer (a view of its bytes, or a string's UTF-8). */
export function toBuffer(data: Uint8Array | string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Packs `records` into one aggregated Kinesis record (always the container format, even for one
 * record). PartitionKey follows the KPL (`KinesisRecord::partition_key`, checklist 2.1): "a" for a
 * container of several records, the record's own key for one; ExplicitHashKey is the first
 * record's effective hash key in decimal. No size limit is applied: use Aggregator for that.
 */
export function aggregate(records: readonly UserRecord[]): KinesisRecordOut {
  const first = records[0];
  if (!first) throw new RangeError('aggregate: records must not be empty');
  const agg = new Aggregator<UserRecord>({ maxBytes: Number.MAX_SAFE_INTEGER });
  for (const r of records) agg.add(r);
  const data = agg.serialize();
  return {
    partitionKey: records.length === 1 ? first.partitionKey : 'a',
    explicitHashKey: effectiveHashKey(first.partitionKey, first.explicitHashKey).toString(),
    data,
  };
}

/** Byte length of `aggregate(records).data`. */
export function aggregatedSize(records: readonly UserRecord[]): number {
  if (records.length === 0) return 0;
  const agg = new Aggregator({ maxBytes: Number.MAX_SAFE_INTEGER });
  for (const r of records) agg.add(r);
  return agg.containerSize;
}

/** Whether `data` starts with the KPL magic and is long enough to hold a digest (checklist 2.3 step 1). */
export function isAggregated(data: Uint8Array): boolean {
  return (
    data.length > KPL_MAGIC.length + DIGEST_SIZE &&
    data[0] === 0xf3 &&
    data[1] === 0x89 &&
    data[2] === 0x9a &&
    data[3] === 0xc2
  );
}

/**
 * Splits one Kinesis record into its user records with the KCL's `AggregatorUtil` semantics
 * (checklist 2.3): no magic, bad MD5 or bad protobuf ⇒ the record itself, not aggregated; with a
 * shard hash range, a user record outside it drops the whole aggregate (the KCL removes those added
 * so far and skips the rest). Where the KCL would throw (a key index past its table) we return the
 * record as-is instead, so one malformed record cannot stop a consumer.
 */
export function deaggregate(
  record: { data: Uint8Array; partitionKey: string; explicitHashKey?: string | undefined },
  shardRange?: { start: bigint; end: bigint },
): DeaggregatedRecord[] {
  const data = toBuffer(record.data);
  const asIs = (): DeaggregatedRecord[] => {
    const r: DeaggregatedRecord = { partitionKey: record.partitionKey, data, subSequenceNumber: 0, aggregated: false };
    if (record.explicitHashKey !== undefined) r.explicitHashKey = record.explicitHashKey;
    return [r];
  };
  if (!isAggregated(data)) return asIs();
  const end = data.length - DIGEST_SIZE;
  const body = data.subarray(KPL_MAGIC.length, end);
  const digest = createHash('md5').update(body).digest();
  if (!digest.equals(data.subarray(end))) return asIs();
  let decoded;
  try {
    decoded = decodeAggregatedRecord(body);
  } catch (e) {
    if (e instanceof ProtoError) return asIs();
    throw e;
  }
  const out: DeaggregatedRecord[] = [];
  const { pkTable, ehkTable, records } = decoded;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as (typeof records)[number];
    const pk = pkTable[r.pkIdx];
    if (pk === undefined) return asIs();
    let ehk: string | undefined;
    if (r.ehkIdx !== undefined) {
      ehk = ehkTable[r.ehkIdx];
      if (ehk === undefined) return asIs();
    }
    if (shardRange) {
      let h: bigint;
      try {
        h = effectiveHashKey(pk, ehk);
      } catch {
        return asIs();
      }
      if (h < shardRange.start || h > shardRange.end) return [];
    }
    const u: DeaggregatedRecord = { partitionKey: pk, data: r.data, subSequenceNumber: i, aggregated: true };
    if (ehk !== undefined) u.explicitHashKey = ehk;
    out.push(u);
  }
  return out;
}
