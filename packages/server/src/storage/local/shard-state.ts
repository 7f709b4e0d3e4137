/**
 * What the log store keeps in memory per shard: its segments, a sparse position/time index over
 * them, and a small cache of its newest records. Everything here describes durable data only: it
 * is updated when a group-commit round has been synced (log-store.ts, "Visibility").
 */
import { join } from 'node:path';
import type { ShardRef } from '../types.js';
import { decodeRecord, FRAME_HEAD_BYTES, type LogRecord, RECORD_FIXED_BYTES, recordPosition } from './frames.js';

/** One more index entry after this many records or bytes of frames, whichever comes first. */
const INDEX_EVERY_RECORDS = 64;
const INDEX_EVERY_BYTES = 16 * 1024;
/** What a cached record costs on top of its frame: its slot in the chunk's offsets. */
const CACHE_RECORD_OVERHEAD = 8;

/**
 * A shard's part of a committed round as the tail cache keeps it: the frames as written and where
 * each starts. Records are decoded from it when read: kept as objects, every record written lived
 * long enough to be copied by the young-generation GC and then promoted, only to die in the old
 * generation (a quarter of the scavenge time under PutRecords, bench/put-records-cpu.mjs).
 */
interface TailChunk {
  readonly bytes: Buffer;
  readonly offsets: Int32Array;
}

export interface Segment {
  /** Per shard, +1 for every segment, never reused while the store is open: index entries name segments by it. */
  readonly seq: number;
  /** Position of its first record; also its file name. */
  readonly first: bigint;
  readonly path: string;
  /** Bytes of durable, committed frames (the file may be longer while a round is being written). */
  size: number;
  /** Position of its last durable record. */
  last: bigint;
}

export function segmentName(first: bigint): string {
  return `${first.toString().padStart(20, '0')}.seg`;
}

export const SEGMENT_NAME = /^\d{20}\.seg$/;

export class ShardState {
  readonly ref: ShardRef;
  readonly key: string;
  readonly dir: string;
  segments: Segment[] = [];
  nextSeq = 0;
  /** Last durable position, undefined when the shard holds nothing. */
  lastPos: bigint | undefined = undefined;
  lastArrival = 0;
  /** Trim floor: records below it are never returned (their segment may still exist). */
  lowWater = 0n;

  // Sparse index, entries [idxHead, idxLen) of parallel typed arrays, in position order.
  idxPos = new BigUint64Array(64);
  idxSeq = new Float64Array(64);
  idxOff = new Float64Array(64);
  idxArr = new Float64Array(64);
  idxHead = 0;
  idxLen = 0;
  #sinceRecords = 0;
  #sinceBytes = 0;
  #forceEntry = true;

  // Tail cache: the newest records, contiguous up to lastPos: chunks [cacheHead, cache.length), the
  // first of them from its record cacheHeadRecord on.
  cache: TailChunk[] = [];
  cacheHead = 0;
  cacheHeadRecord = 0;
  cacheBytes = 0;

  constructor(ref: ShardRef, key: string, logDir: string) {
    this.ref = ref;
    this.key = key;
    this.dir = join(logDir, String(ref.streamId), String(ref.shardIndex));
  }

  /** The last durable position if any record at or above the trim floor is stored. */
  lastLive(): bigint | undefined {
    return this.lastPos !== undefined && this.lastPos >= this.lowWater ? this.lastPos : undefined;
  }

  segmentBySeq(seq: number): Segment | undefined {
    const first = this.segments[0];
    return first === undefined ? undefined : this.segments[seq - first.seq];
  }

  /** Called for the first record of a new segment: it always gets an index entry. */
  startSegment(): void {
    this.#forceEntry = true;
  }

  /** Whether the next record noted gets an index entry (noteRecord), or may be skipped (skipRecord). */
  entryDue(): boolean {
    return this.#forceEntry || this.#sinceRecords >= INDEX_EVERY_RECORDS || this.#sinceBytes >= INDEX_EVERY_BYTES;
  }

  /**
   * noteRecord for a record that gets no index entry (entryDue() is false), whose position and
   * arrival need not be made: noteLast records the last ones of a run.
   */
  skipRecord(frameBytes: number): void {
    this.#sinceRecords++;
    this.#sinceBytes += frameBytes;
  }

  noteLast(position: bigint, arrivalMs: number): void {
    this.lastPos = position;
    this.lastArrival = arrivalMs;
  }

  /** Notes a durable record (in file order) for the index and last position. */
  noteRecord(position: bigint, arrivalMs: number, seq: number, offset: number, frameBytes: number): void {
    if (this.entryDue()) {
      this.#addEntry(position, seq, offset, arrivalMs);
      this.#forceEntry = false;
      this.#sinceRecords = 0;
      this.#sinceBytes = 0;
    }
    this.skipRecord(frameBytes);
    this.noteLast(position, arrivalMs);
  }

  #addEntry(position: bigint, seq: number, offset: number, arrivalMs: number): void {
    if (this.idxLen === this.idxPos.length) {
      const live = this.idxLen - this.idxHead;
      // Compact when trims freed at least half, else grow.
      const cap = live * 2 <= this.idxPos.length ? this.idxPos.length : this.idxPos.length * 2;
      const move = <A extends BigUint64Array | Float64Array>(a: A, make: (n: number) => A): A => {
        const b = make(cap);
        b.set(a.subarray(this.idxHead, this.idxLen) as never);
        return b;
      };
      this.idxPos = move(this.idxPos, (n) => new BigUint64Array(n));
      this.idxSeq = move(this.idxSeq, (n) => new Float64Array(n));
      this.idxOff = move(this.idxOff, (n) => new Float64Array(n));
      this.idxArr = move(this.idxArr, (n) => new Float64Array(n));
      this.idxHead = 0;
      this.idxLen = live;
    }
    const i = this.idxLen++;
    this.idxPos[i] = position;
    this.idxSeq[i] = seq;
    this.idxOff[i] = offset;
    this.idxArr[i] = arrivalMs;
  }

  /** Drops index entries of segments that no longer exist (after a trim). */
  dropEntriesBefore(seq: number): void {
    while (this.idxHead < this.idxLen && this.idxSeq[this.idxHead]! < seq) this.idxHead++;
  }

  clearIndex(): void {
    this.idxHead = 0;
    this.idxLen = 0;
    this.#forceEntry = true;
  }

  /** The entry to start a forward scan for position p from: the last one at or below p, else the first. */
  entryForPosition(p: bigint): number {
    let lo = this.idxHead;
    let hi = this.idxLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.idxPos[mid]! <= p) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1 >= this.idxHead ? lo - 1 : this.idxHead;
  }

  /** The entry to start a forward scan for the first arrival >= atMs from: the last one arriving before atMs, else the first. */
  entryForTime(atMs: number): number {
    let lo = this.idxHead;
    let hi = this.idxLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.idxArr[mid]! < atMs) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1 >= this.idxHead ? lo - 1 : this.idxHead;
  }

  /** Adds a just-committed shard part (frames and their offsets) to the tail cache; returns the change in cached bytes. */
  cacheAdd(bytes: Buffer, offsets: Int32Array, perShardMax: number): number {
    if (offsets.length === 0) return 0;
    const before = this.cacheBytes;
    this.cache.push({ bytes, offsets });
    this.cacheBytes += bytes.length + offsets.length * CACHE_RECORD_OVERHEAD;
    while (this.cacheBytes > perShardMax && this.cacheHead < this.cache.length) {
      const head = this.cache[this.cacheHead]!;
      const j = this.cacheHeadRecord;
      this.cacheBytes -= frameEnd(head, j) - head.offsets[j]! + CACHE_RECORD_OVERHEAD;
      if (j + 1 < head.offsets.length) this.cacheHeadRecord = j + 1;
      else {
        this.cache[this.cacheHead++] = undefined as never;
        this.cacheHeadRecord = 0;
      }
    }
    if (this.cacheHead > 256 && this.cacheHead * 2 > this.cache.length) {
      this.cache = this.cache.slice(this.cacheHead);
      this.cacheHead = 0;
    }
    return this.cacheBytes - before;
  }

  /** Empties the tail cache; returns the bytes freed. */
  cacheClear(): number {
    const freed = this.cacheBytes;
    this.cache = [];
    this.cacheHead = 0;
    this.cacheHeadRecord = 0;
    this.cacheBytes = 0;
    return freed;
  }

  /**
   * The cached records from position p on, decoded, up to `maxRecords` or until their keys and data
   * reach `maxBytes`; undefined unless the cache holds every stored record >= p.
   */
  cacheRead(p: bigint, maxRecords: number, maxBytes: number): LogRecord[] | undefined {
    const first = this.cache[this.cacheHead];
    if (first === undefined || p < positionOf(first, this.cacheHeadRecord)) return undefined;
    // The last chunk whose first record is <= p, then the record.
    let lo = this.cacheHead;
    let hi = this.cache.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (positionOf(this.cache[mid]!, 0) <= p) lo = mid;
      else hi = mid - 1;
    }
    const chunk = this.cache[lo]!;
    let a = lo === this.cacheHead ? this.cacheHeadRecord : 0;
    let b = chunk.offsets.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (positionOf(chunk, mid) < p) a = mid + 1;
      else b = mid;
    }
    const out: LogRecord[] = [];
    let bytes = 0;
    for (let c = lo, j = a; c < this.cache.length; c++, j = 0) {
      const ch = this.cache[c]!;
      for (; j < ch.offsets.length; j++) {
        const body = ch.offsets[j]! + FRAME_HEAD_BYTES;
        const bodyLen = frameEnd(ch, j) - body;
        out.push(decodeRecord(ch.bytes, body, bodyLen));
        bytes += bodyLen - RECORD_FIXED_BYTES;
        if (out.length >= maxRecords || bytes >= maxBytes) return out;
      }
    }
    return out;
  }
}

/** Where record j's frame ends in its chunk. */
function frameEnd(c: TailChunk, j: number): number {
  return j + 1 < c.offsets.length ? c.offsets[j + 1]! : c.bytes.length;
}

function positionOf(c: TailChunk, j: number): bigint {
  return recordPosition(c.bytes, c.offsets[j]! + FRAME_HEAD_BYTES);
}
