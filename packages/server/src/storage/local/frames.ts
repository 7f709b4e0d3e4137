/**
 * The byte layout of the segment log (see log-store.ts for how the pieces fit together).
 *
 * Segment file: magic "EDDYSEG1" (8 bytes), then frames, back to back.
 * Frame:        length u32 LE (bytes of the body) | crc32 u32 LE (zlib.crc32 of the body) | body
 * Body, kind 1 (record): kind u8 = 1 | position u64 LE | arrivalMs u48 LE | keyId u32 LE
 *                        | partition key length u16 LE | partition key (UTF-8) | data
 * Body, kind 3 (round part): kind u8 = 3 | round u64 LE | parts u32 LE | bytes u32 LE
 *   Written once per shard at the start of every group-commit round that touches the shard: the
 *   `bytes` bytes of frames after it are that round's records for the shard, and `parts` is the
 *   number of shards the round touched. A round is committed when every one of its parts is on
 *   disk whole, which recovery can tell from the files alone (log-store.ts, "Durability").
 * Body, kind 2 (round):  kind u8 = 2 | round u64 LE
 *   The round frame of earlier versions, committed by a record in the commit file; still read.
 * The kind byte is the one addition to the record layout of the design brief: without it a round
 * frame could not be told from a record.
 */
import { crc32 } from 'node:zlib';
import { checkBounds } from '../columns.js';
import type { AppendEntry, ColumnAppend, ShardRef, StoredRecord } from '../types.js';

/**
 * CRC-32 (the zlib polynomial) of buf[start, end). zlib.crc32 costs ~0.7 µs a call whatever the
 * length (binding overhead plus the subarray it needs), so small bodies, the common case, go
 * through a slice-by-8 table here instead; both give the same value.
 */
export function crcOf(buf: Buffer, start: number, end: number): number {
  if (end - start > 512) return crc32(buf.subarray(start, end));
  let c = -1;
  let s = start;
  while (s + 8 <= end) {
    const a = c ^ (buf[s]! | (buf[s + 1]! << 8) | (buf[s + 2]! << 16) | (buf[s + 3]! << 24));
    c =
      CRC[1792 + (a & 0xff)]! ^
      CRC[1536 + ((a >>> 8) & 0xff)]! ^
      CRC[1280 + ((a >>> 16) & 0xff)]! ^
      CRC[1024 + (a >>> 24)]! ^
      CRC[768 + buf[s + 4]!]! ^
      CRC[512 + buf[s + 5]!]! ^
      CRC[256 + buf[s + 6]!]! ^
      CRC[buf[s + 7]!]!;
    s += 8;
  }
  while (s < end) c = CRC[(c ^ buf[s++]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const CRC = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

export const SEGMENT_MAGIC = Buffer.from('EDDYSEG1', 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length;
export const FRAME_HEAD_BYTES = 8;
export const KIND_RECORD = 1;
export const KIND_ROUND = 2;
export const KIND_ROUND_PART = 3;
/** kind + position + arrivalMs + keyId + partition key length. */
export const RECORD_FIXED_BYTES = 1 + 8 + 6 + 4 + 2;
export const ROUND_BODY_BYTES = 1 + 8;
export const ROUND_FRAME_BYTES = FRAME_HEAD_BYTES + ROUND_BODY_BYTES;
export const ROUND_PART_BODY_BYTES = 1 + 8 + 4 + 4;
export const ROUND_PART_FRAME_BYTES = FRAME_HEAD_BYTES + ROUND_PART_BODY_BYTES;

export const MAX_U32 = 0xffff_ffff;
export const MAX_U64 = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_ARRIVAL = 2 ** 48 - 1;
const MAX_PARTITION_KEY_BYTES = 0xffff;
/** A frame body can never be this large (a record is at most a few MiB): a length beyond it is garbage. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

export function checkShard(s: ShardRef): void {
  if (!Number.isInteger(s.streamId) || s.streamId < 0 || s.streamId > MAX_U32) {
    throw new RangeError(`streamId must be an integer in [0, 2^32): ${s.streamId}`);
  }
  if (!Number.isInteger(s.shardIndex) || s.shardIndex < 0 || s.shardIndex > MAX_U32) {
    throw new RangeError(`shardIndex must be an integer in [0, 2^32): ${s.shardIndex}`);
  }
}

export const shardKey = (s: ShardRef): string => `${s.streamId}/${s.shardIndex}`;

/** A record as decoded from a frame (on a read: from a file, or from the tail cache's frames). */
export class LogRecord implements StoredRecord {
  constructor(
    readonly position: bigint,
    readonly arrivalMs: number,
    readonly keyId: number,
    readonly partitionKey: string,
    readonly data: Buffer,
  ) {}
}

/** The frames of one append for one shard: one buffer, and where each record starts in it. */
export interface ShardChunk {
  readonly shard: ShardRef;
  readonly key: string;
  readonly bytes: Buffer;
  /** Frame start of each record within `bytes`. */
  readonly offsets: Int32Array;
  /**
   * Each record's position and arrival (the index notes them once the round is durable); absent
   * for a run (a column append's part): positions first, first + 1, ..., all at `arrivalMs`.
   */
  readonly positions: BigUint64Array | undefined;
  readonly arrivals: Float64Array | undefined;
  readonly arrivalMs: number;
  readonly first: bigint;
  readonly last: bigint;
}

function checkPosition(p: bigint): void {
  if (typeof p !== 'bigint' || p < 0n || p > MAX_U64) throw new RangeError(`position must be a bigint in [0, 2^64): ${String(p)}`);
}

function checkArrival(ms: number): void {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_ARRIVAL) throw new RangeError(`arrivalMs must be an integer in [0, 2^48): ${ms}`);
}

function checkKeyId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_U32) throw new RangeError(`keyId must be an integer in [0, 2^32): ${id}`);
}

function checkKeyBytes(n: number): void {
  if (n > MAX_PARTITION_KEY_BYTES) throw new RangeError(`partition key longer than ${MAX_PARTITION_KEY_BYTES} bytes`);
}

/**
 * Writes a record frame's head and fixed fields at `at` (the key and data follow them, then the
 * CRC is set by sealFrame); returns where the key goes.
 */
function recordHead(bytes: Buffer, dv: DataView, at: number, bodyLen: number, position: bigint | number, arrival: number, keyId: number, pk: number): number {
  dv.setUint32(at, bodyLen, true);
  const body = at + FRAME_HEAD_BYTES;
  bytes[body] = KIND_RECORD;
  if (typeof position === 'bigint') dv.setBigUint64(body + 1, position, true);
  else {
    // A safe integer, in two words: no BigInt made per record.
    dv.setUint32(body + 1, position % 0x1_0000_0000, true);
    dv.setUint32(body + 5, Math.floor(position / 0x1_0000_0000), true);
  }
  dv.setUint32(body + 9, arrival % 0x1_0000_0000, true);
  dv.setUint16(body + 13, Math.floor(arrival / 0x1_0000_0000), true);
  dv.setUint32(body + 15, keyId, true);
  dv.setUint16(body + 19, pk, true);
  return body + RECORD_FIXED_BYTES;
}

/** Sets the CRC of the frame that starts at `start` and ends at `end`. */
function sealFrame(bytes: Buffer, dv: DataView, start: number, end: number): void {
  dv.setUint32(start + 4, crcOf(bytes, start + FRAME_HEAD_BYTES, end), true);
}

/**
 * Validates one append and encodes it, per shard, into frames. Throws RangeError/TypeError on bad
 * input before anything is queued, so an append is refused whole.
 */
export function encodeAppend(entries: readonly AppendEntry[]): ShardChunk[] {
  const groups = new Map<string, { shard: ShardRef; idx: number[]; pk: number[]; bytes: number; last: bigint }>();
  // Callers pass one ShardRef object per shard: check and name each once.
  let lastShard: ShardRef | undefined;
  let key = '';
  for (let i = 0; i < entries.length; i++) {
    const { shard, record } = entries[i]!;
    if (shard !== lastShard) {
      checkShard(shard);
      key = shardKey(shard);
      lastShard = shard;
    }
    const p = record.position;
    checkPosition(p);
    checkArrival(record.arrivalMs);
    checkKeyId(record.keyId);
    if (!(record.data instanceof Uint8Array)) throw new TypeError('record data must be a Uint8Array');
    const pk = Buffer.byteLength(record.partitionKey, 'utf8');
    checkKeyBytes(pk);
    const g = groups.get(key);
    const size = FRAME_HEAD_BYTES + RECORD_FIXED_BYTES + pk + record.data.byteLength;
    if (g === undefined) groups.set(key, { shard, idx: [i], pk: [pk], bytes: size, last: p });
    else if (p <= g.last) {
      throw new RangeError(`positions must be strictly increasing per shard: ${p} after ${g.last} in shard ${key}`);
    } else {
      g.idx.push(i);
      g.pk.push(pk);
      g.bytes += size;
      g.last = p;
    }
  }
  const out: ShardChunk[] = [];
  for (const [key, g] of groups) {
    const n = g.idx.length;
    const bytes = Buffer.allocUnsafeSlow(g.bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offsets = new Int32Array(n);
    const positions = new BigUint64Array(n);
    const arrivals = new Float64Array(n);
    let at = 0;
    for (let j = 0; j < n; j++) {
      const { record } = entries[g.idx[j]!]!;
      const pk = g.pk[j]!;
      const start = at;
      at = recordHead(bytes, dv, at, RECORD_FIXED_BYTES + pk + record.data.byteLength, record.position, record.arrivalMs, record.keyId, pk);
      if (pk > 0) at += writeKey(bytes, at, record.partitionKey, pk);
      bytes.set(record.data, at);
      at += record.data.byteLength;
      sealFrame(bytes, dv, start, at);
      offsets[j] = start;
      positions[j] = record.position;
      arrivals[j] = record.arrivalMs;
    }
    out.push({ shard: g.shard, key, bytes, offsets, positions, arrivals, arrivalMs: arrivals[0]!, first: positions[0]!, last: g.last });
  }
  return out;
}

/**
 * Copies of at most this many bytes go a 32-bit word at a time through DataViews: a Buffer#copy
 * call costs more for them, and it makes a view of the source range on every call (garbage for
 * each record); longer ones go to Buffer#copy.
 */
const COPY_WORDS_BYTES = 128;

/** `encodeAppend` for an append given in columns (storage/types.ts, ColumnAppend). */
export function encodeColumns(batch: ColumnAppend): ShardChunk[] {
  const { keyId, data, keys, bounds } = batch;
  checkKeyId(keyId);
  const dataView = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const keysView = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  const seen = new Set<string>();
  const out: ShardChunk[] = [];
  for (const part of batch.parts) {
    checkShard(part.shard);
    const key = shardKey(part.shard);
    if (seen.has(key)) throw new RangeError(`shard ${key} appears twice in one append`);
    seen.add(key);
    const { records, first, arrivalMs } = part;
    const n = records.length;
    if (n === 0) continue;
    checkPosition(first);
    const last = first + BigInt(n - 1);
    checkPosition(last);
    checkArrival(arrivalMs);
    let size = 0;
    for (let j = 0; j < n; j++) {
      const i = records[j]!;
      checkBounds(batch, i);
      const pk = bounds[4 * i + 3]! - bounds[4 * i + 2]!;
      checkKeyBytes(pk);
      size += FRAME_HEAD_BYTES + RECORD_FIXED_BYTES + pk + bounds[4 * i + 1]! - bounds[4 * i]!;
    }
    const bytes = Buffer.allocUnsafeSlow(size);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offsets = new Int32Array(n);
    // Positions as numbers while they are safe integers (always, in practice), else as BigInts.
    const small = last <= MAX_SAFE;
    let position: bigint | number = small ? Number(first) : first;
    let at = 0;
    for (let j = 0; j < n; j++) {
      const i = records[j]!;
      const ds = bounds[4 * i]!;
      const de = bounds[4 * i + 1]!;
      const ks = bounds[4 * i + 2]!;
      const ke = bounds[4 * i + 3]!;
      const start = at;
      at = recordHead(bytes, dv, at, RECORD_FIXED_BYTES + ke - ks + de - ds, position, arrivalMs, keyId, ke - ks);
      at = copyInto(bytes, dv, at, keys, keysView, ks, ke);
      at = copyInto(bytes, dv, at, data, dataView, ds, de);
      sealFrame(bytes, dv, start, at);
      offsets[j] = start;
      position = typeof position === 'number' ? position + 1 : position + 1n;
    }
    out.push({ shard: part.shard, key, bytes, offsets, positions: undefined, arrivals: undefined, arrivalMs, first, last });
  }
  return out;
}

/** Copies src[start, end) to dst at `at`; returns the end of the copy in dst. */
function copyInto(dst: Buffer, dstView: DataView, at: number, src: Buffer, srcView: DataView, start: number, end: number): number {
  if (end - start > COPY_WORDS_BYTES) return at + src.copy(dst, at, start, end);
  let i = start;
  for (; i + 4 <= end; i += 4, at += 4) dstView.setUint32(at, srcView.getUint32(i, true), true);
  for (; i < end; i++) dst[at++] = src[i]!;
  return at;
}

/** Writes a partition key of `n` UTF-8 bytes; ASCII keys (n === length) byte by byte, which beats a Buffer#write call. */
function writeKey(bytes: Buffer, at: number, key: string, n: number): number {
  if (n === key.length && n <= 64) {
    for (let i = 0; i < n; i++) bytes[at + i] = key.charCodeAt(i);
    return n;
  }
  return bytes.write(key, at, n, 'utf8');
}

export function roundFrame(round: number): Buffer {
  const b = Buffer.allocUnsafe(ROUND_FRAME_BYTES);
  b.writeUInt32LE(ROUND_BODY_BYTES, 0);
  b[FRAME_HEAD_BYTES] = KIND_ROUND;
  b.writeBigUInt64LE(BigInt(round), FRAME_HEAD_BYTES + 1);
  b.writeUInt32LE(crcOf(b, FRAME_HEAD_BYTES, b.length), 4);
  return b;
}

/** The frame that opens a round's part in one shard: `bytes` bytes of its frames follow. */
export function roundPartFrame(round: number, parts: number, bytes: number): Buffer {
  const b = Buffer.allocUnsafe(ROUND_PART_FRAME_BYTES);
  b.writeUInt32LE(ROUND_PART_BODY_BYTES, 0);
  b[FRAME_HEAD_BYTES] = KIND_ROUND_PART;
  b.writeBigUInt64LE(BigInt(round), FRAME_HEAD_BYTES + 1);
  b.writeUInt32LE(parts, FRAME_HEAD_BYTES + 9);
  b.writeUInt32LE(bytes, FRAME_HEAD_BYTES + 13);
  b.writeUInt32LE(crcOf(b, FRAME_HEAD_BYTES, b.length), 4);
  return b;
}

/** frameAt results: not enough bytes for the frame (read more, or at the end of a file: torn). */
export const FRAME_SHORT = 0;
/** frameAt results: not a frame (torn or corrupt); frameProblem says why. */
export const FRAME_BAD = -1;

/**
 * The size of the frame starting at `at` of `buf[0, end)`, or FRAME_SHORT / FRAME_BAD; with
 * `verify`, its CRC is checked. Its kind is buf[at + FRAME_HEAD_BYTES]. No allocation: this runs
 * for every record read.
 */
export function frameAt(buf: Buffer, at: number, end: number, verify: boolean): number {
  if (end - at < FRAME_HEAD_BYTES) return FRAME_SHORT;
  const bodyLen = buf.readUInt32LE(at);
  if (bodyLen < 1 || bodyLen > MAX_BODY_BYTES) return FRAME_BAD;
  const size = FRAME_HEAD_BYTES + bodyLen;
  if (end - at < size) return FRAME_SHORT;
  const body = at + FRAME_HEAD_BYTES;
  if (verify && crcOf(buf, body, body + bodyLen) !== buf.readUInt32LE(at + 4)) return FRAME_BAD;
  const kind = buf[body];
  if (kind === KIND_RECORD) {
    return bodyLen >= RECORD_FIXED_BYTES && RECORD_FIXED_BYTES + buf.readUInt16LE(body + 19) <= bodyLen ? size : FRAME_BAD;
  }
  if (kind === KIND_ROUND_PART) return bodyLen === ROUND_PART_BODY_BYTES ? size : FRAME_BAD;
  return kind === KIND_ROUND && bodyLen === ROUND_BODY_BYTES ? size : FRAME_BAD;
}

/** Why frameAt said FRAME_BAD, for the error message. */
export function frameProblem(buf: Buffer, at: number, end: number): string {
  const bodyLen = buf.readUInt32LE(at);
  if (bodyLen < 1 || bodyLen > MAX_BODY_BYTES) return `frame length ${bodyLen}`;
  const body = at + FRAME_HEAD_BYTES;
  if (end - at >= FRAME_HEAD_BYTES + bodyLen && crcOf(buf, body, body + bodyLen) !== buf.readUInt32LE(at + 4)) return 'CRC mismatch';
  return `bad frame of kind ${buf[body]}`;
}

/** The round number of a round frame (kind 2 or 3) starting at `at`. */
export const roundOf = (buf: Buffer, at: number): number => Number(buf.readBigUInt64LE(at + FRAME_HEAD_BYTES + 1));
/** How many shards the round of a round-part frame starting at `at` touched. */
export const roundPartsOf = (buf: Buffer, at: number): number => buf.readUInt32LE(at + FRAME_HEAD_BYTES + 9);
/** How many bytes of frames follow the round-part frame starting at `at`, in its round. */
export const roundBytesOf = (buf: Buffer, at: number): number => buf.readUInt32LE(at + FRAME_HEAD_BYTES + 13);
export const recordPosition = (buf: Buffer, body: number): bigint => buf.readBigUInt64LE(body + 1);
export const recordArrival = (buf: Buffer, body: number): number => buf.readUIntLE(body + 9, 6);

/** Decodes a record frame's body; the data is a view of `buf` (a buffer read for this call only). */
export function decodeRecord(buf: Buffer, body: number, bodyLen: number): LogRecord {
  const pkEnd = body + RECORD_FIXED_BYTES + buf.readUInt16LE(body + 19);
  return new LogRecord(
    buf.readBigUInt64LE(body + 1),
    buf.readUIntLE(body + 9, 6),
    buf.readUInt32LE(body + 15),
    buf.toString('utf8', body + RECORD_FIXED_BYTES, pkEnd),
    buf.subarray(pkEnd, body + bodyLen),
  );
}
