/**
 * What the log store keeps in memory per shard: its segments, a sparse position/time index over
 * them, and a small cache of its newest records. Everything here describes durable data only: it
 * is updated when a group-commit round has been synced (log-store.ts, "Visibility").
 */
import { join } from 'node:path';
import type { ShardRef } from '../types.js';
import type { LogRecord } from './frames.js';

/** One more index entry after this many records or bytes of frames, whichever comes first. */
const INDEX_EVERY_RECORDS = 64;
const INDEX_EVERY_BYTES = 16 * 1024;
/** Rough per-record overhead of a cached record (object, bigint, views) on top of its bytes. */
const CACHE_RECORD_OVERHEAD = 96;

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

  // Tail cache: the newest records, contiguous up to lastPos, entries [cacheHead, cache.length).
  cache: LogRecord[] = [];
  cacheHead = 0;
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

  /** Notes a durable record (in file order) for the index and last position. */
  noteRecord(position: bigint, arrivalMs: number, seq: number, offset: number, frameBytes: number): void {
    if (this.#forceEntry || this.#sinceRecords >= INDEX_EVERY_RECORDS || this.#sinceBytes >= INDEX_EVERY_BYTES) {
      this.#addEntry(position, seq, offset, arrivalMs);
      this.#forceEntry = false;
      this.#sinceRecords = 0;
      this.#sinceBytes = 0;
    }
    this.#sinceRecords++;
    this.#sinceBytes += frameBytes;
    this.lastPos = position;
    this.lastArrival = arrivalMs;
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

  /** Adds a just-committed record to the tail cache; returns the change in cached bytes. */
  cacheAdd(r: LogRecord, perShardMax: number): number {
    const before = this.cacheBytes;
    this.cache.push(r);
    this.cacheBytes += cachedBytes(r);
    while (this.cacheBytes > perShardMax && this.cacheHead < this.cache.length) {
      const old = this.cache[this.cacheHead]!;
      this.cacheBytes -= cachedBytes(old);
      this.cache[this.cacheHead++] = undefined as never;
    }
    if (this.cacheHead > 1024 && this.cacheHead * 2 > this.cache.length) {
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
    this.cacheBytes = 0;
    return freed;
  }

  /** Index in `cache` of the first record >= p if the cache holds every stored record >= p, else -1. */
  cacheFrom(p: bigint): number {
    const head = this.cache[this.cacheHead];
    if (head === undefined || p < head.position) return -1;
    let lo = this.cacheHead;
    let hi = this.cache.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cache[mid]!.position < p) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** What a cached record is counted as (the partition key by UTF-16 length: an estimate is enough). */
const cachedBytes = (r: LogRecord): number => r.dataLength + r.partitionKey.length + CACHE_RECORD_OVERHEAD;
