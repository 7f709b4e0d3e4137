/**
 * The LogStore of the `local` engine: append-only segment files per shard, read and written with
 * ordinary file I/O (no mmap, so the resident memory of the process does not grow with the data:
 * the page cache holds the file data, outside the process).
 *
 * Layout, under `<dataDir>/log/`:
 *   commit                          the commit file: the last checkpoint (a round number)
 *   journal-0, journal-1            the commit log (commit-log.ts): every round since the last checkpoint
 *   <streamId>/<shardIndex>/        one directory per shard
 *     <first position, 20 digits>.seg   segment files (frames.ts), rolled at ~64 MiB
 *     trim                          the shard's trim floor (u64 + CRC), when a trim left records below it
 *   .trash/                         dropped shard directories, deleted in the background and at open
 *
 * Group commit. Appends are encoded (and validated) when called and queued. One round at a time
 * takes every queued append, checks positions against what is stored (refusing a whole append
 * whose positions do not increase, as LMDB did inside its transaction), and then:
 *   1. per touched shard, its part laid out for the end of its last segment (or for a new segment,
 *      created with O_EXCL, when the last one has reached 64 MiB; the shard directory, and its
 *      parents if they were created, are then fsync'd): a round-part frame naming the round, the
 *      number of shards it touches and the length of what follows, then the frames of every
 *      append of the round for that shard;
 *   2. the round's record in the commit log: every part, with the file and offset it goes to, in
 *      one write to a journal file open with O_DSYNC (durable on return: write + fdatasync in one
 *      call). One sync per round however many shards it touched: the event loop hands one write
 *      to libuv's pool, where four shards used to take four;
 *   3. one positional writev per part into its segment, through the page cache (after step 2, not
 *      beside it: ext4 makes a metadata change wait while it commits its own journal for the
 *      sync, and the event loop would wait with it); then the round is published to readers (see
 *      Visibility) and every append of it resolves.
 * Appends arriving during a round wait for the next one, so a round's sync is shared by all of
 * them; trims and drops run between rounds, in call order.
 *
 * Checkpoints. A journal is written from its start until it holds 64 MiB; then the store goes on in
 * the other one and, in the background, fdatasyncs every segment file written since the last
 * checkpoint and records the last round before the switch in the commit file (two 16-byte slots
 * 4 KiB apart, written alternately, each with a CRC: a torn write leaves the checkpoint before).
 * A journal is written over only once the checkpoint of its own rounds is done, so the journals
 * always hold every round after the last two checkpoints. Trims and drops checkpoint every round
 * first (so no round after the checkpoint refers to a segment they delete), and so does close.
 *
 * Durability and all-or-nothing. An append is acknowledged after step 2, so after a crash its
 * round is in a journal, or at or below the checkpoint and synced in the segments. At open, the
 * rounds after the checkpoint are read from the journals (whole records only, checked by CRC, in
 * unbroken round order) and their parts written back where they were, creating files a power cut
 * lost, and synced: the segments then hold every acknowledged round whole. A round whose journal
 * write was cut short was not acknowledged, and none of its parts reached a segment (step 3 comes
 * after), though a segment file it created may be there, empty (removed at open). Then each
 * shard's last segment is scanned up to the first frame that is torn or fails its CRC (truncated
 * there), noting the last round part it holds. For data directories written before the journals
 * (below), the highest round found can still be incomplete, always as the tail of each file it
 * touched: it is kept if its part is whole (every frame of its declared length present and sound)
 * in as many shards as it declares, and synced; otherwise every part of it is truncated (a segment
 * it created is removed entirely). Every append lies within one round, so it survives whole or not
 * at all. The result is a checkpoint (recorded in the commit
 * file) from which the journals are written afresh. A round's part can leave with its shard (a trim
 * that deletes the segment, a dropped shard) while it is still the highest round: those come after
 * a checkpoint, and every round at or below the checkpoint is kept without counting parts. Older
 * data directories, with no journals, whose rounds were committed by O_DSYNC segment writes or by
 * the commit file alone (kind 2 round frames), are read the same way. Segments other than the last
 * of a shard hold no torn frame once the journals are replayed, so a problem in one of them is
 * corruption and fails the open.
 *
 * Visibility. `read`, `lastPosition` and `positionAtTime` see only published rounds: each segment
 * carries its durable size, and readers never look past it, even though the writer may already
 * have written the next round's frames beyond it. So a reader never sees an append before it is
 * durable, nor half of one.
 *
 * Trims delete whole segments whose records are all below the floor and raise the shard's
 * in-memory floor at once, so reads skip the rest. The floor is persisted by rewriting the small
 * trim file without a sync (cheap; trims come from retention, which repeats them): after a crash
 * that lost it, records a trim had hidden but not yet deleted may come back until the next trim,
 * never records the trim should have kept. A shard whose records were all trimmed has no segment;
 * when its next segment is created, the trim file is removed in the same directory sync, so a
 * stale floor can never hide new records. Dropping a shard renames its directory into .trash (one
 * directory sync makes the drop durable) and deletes it afterwards.
 *
 * Reads. Per shard a sparse index in typed arrays (one entry every 64 records or 16 KiB of frames,
 * and at each segment start: position, segment, offset, arrival) is rebuilt at open by scanning
 * the segments. A read binary-searches it and preads forward from there, verifying each record's
 * CRC; `positionAtTime` binary-searches the arrivals then scans forward. The newest records of each
 * shard (up to 256 KiB, 16 MiB over all shards) stay in memory, so reading at the tail (put-to-get,
 * SubscribeToShard) makes no system call. Open files are kept in an LRU of at most 256 handles.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  unlinkSync,
  writeSync,
  constants,
  writevSync,
} from 'node:fs';
import { mkdir, open, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import type { AppendEntry, ColumnAppend, LogStore, ReadLimits, ShardRef, StoredRecord } from '../types.js';
import { JOURNAL_FILES, fsyncPathSync, journalHead, readJournals, replayRounds, roundsAfter, type JournalPart } from './commit-log.js';
import { CREATE, FileHandles, type Lease } from './file-handles.js';
import {
  FRAME_HEAD_BYTES,
  MAX_U64,
  RECORD_FIXED_BYTES,
  ROUND_PART_FRAME_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  checkShard,
  decodeRecord,
  encodeAppend,
  encodeColumns,
  recordArrival,
  FRAME_BAD,
  FRAME_SHORT,
  KIND_RECORD,
  KIND_ROUND,
  KIND_ROUND_PART,
  frameAt,
  frameProblem,
  recordPosition,
  roundBytesOf,
  roundOf,
  roundPartFrame,
  roundPartsOf,
  shardKey,
  type LogRecord,
  type ShardChunk,
} from './frames.js';
import { SEGMENT_NAME, ShardState, segmentName, type Segment } from './shard-state.js';

const SEGMENT_ROLL_BYTES = 64 * 1024 * 1024;
const JOURNAL_ROTATE_BYTES = 64 * 1024 * 1024;
const TAIL_CACHE_PER_SHARD = 256 * 1024;
const TAIL_CACHE_TOTAL = 16 * 1024 * 1024;
const MAX_OPEN_FILES = 256;
const READ_FIRST_BYTES = 64 * 1024;
const TIME_SCAN_FIRST_BYTES = 20 * 1024;
const READ_MAX_BYTES = 1024 * 1024;
const SCAN_BYTES = 1024 * 1024;

const COMMIT_FILE = 'commit';
const COMMIT_MAGIC = 0x3143_4445; // "EDC1"
const COMMIT_SLOT_BYTES = 16;
export const COMMIT_SLOT_STRIDE = 4096;
const TRIM_FILE = 'trim';
const TRIM_MAGIC = 0x3154_4445; // "EDT1"
const TRASH_DIR = '.trash';

/** An append waiting for its round. */
interface Pending {
  readonly chunks: ShardChunk[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

type Queued =
  | { readonly kind: 'append'; readonly append: Pending }
  | { readonly kind: 'task'; readonly run: () => Promise<void>; readonly resolve: () => void; readonly reject: (e: unknown) => void };

/** One shard's part of a round: laid out in step 1, journaled in step 2, written and published in step 3. */
interface Written {
  readonly st: ShardState;
  readonly seg: Segment;
  readonly created: boolean;
  readonly chunks: ShardChunk[];
  /** What is written, and where (the segment header too, in a segment it created): the journal's part. */
  readonly fileAt: number;
  readonly bufs: Buffer[];
  /** The segment file, held from step 1 to step 3. */
  readonly lease: Lease;
}

// ------------------------------------------------------------------------------------ small file helpers

/** One slot of the commit file (exported for the recovery tests). */
export function slot(round: number): Buffer {
  const b = Buffer.alloc(COMMIT_SLOT_BYTES);
  b.writeUInt32LE(COMMIT_MAGIC, 0);
  b.writeBigUInt64LE(BigInt(round), 4);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

function readSlot(b: Buffer, at: number): number | undefined {
  if (b.length < at + COMMIT_SLOT_BYTES) return undefined;
  const s = b.subarray(at, at + COMMIT_SLOT_BYTES);
  if (s.readUInt32LE(0) !== COMMIT_MAGIC || crc32(s.subarray(0, 12)) !== s.readUInt32LE(12)) return undefined;
  return Number(s.readBigUInt64LE(4));
}

function trimBytes(before: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(TRIM_MAGIC, 0);
  b.writeBigUInt64LE(before, 4);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

function readTrim(dir: string): bigint | undefined {
  let b: Buffer;
  try {
    b = readFileSync(join(dir, TRIM_FILE));
  } catch {
    return undefined;
  }
  if (b.length !== 16 || b.readUInt32LE(0) !== TRIM_MAGIC || crc32(b.subarray(0, 12)) !== b.readUInt32LE(12)) return undefined;
  return b.readBigUInt64LE(4);
}


async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * The journal record of a round of one part up to this size is written (durably: O_DSYNC) on the
 * event loop itself while such writes are fast (under SYNC_INLINE_MS on average): that is the
 * latency case (one writer, small puts), where handing the call to libuv's thread pool and being
 * woken when it is done costs more than the write, and the pool's wake-ups are the tail on small
 * VMs. The records of rounds over several shards (many writers) are written in the pool, so that
 * the event loop reads and decodes the next requests meanwhile, and so are large ones and writes
 * on a slow disk.
 */
const SYNC_WRITE_BYTES = 256 * 1024;
const SYNC_INLINE_MS = 1;

/** writevSync until every byte is written. */
function writeAllSync(fd: number, bufs: Buffer[], position: number): void {
  let rest = bufs;
  let pos = position;
  for (;;) {
    const left = rest.reduce((n, b) => n + b.length, 0);
    if (left === 0) return;
    const written = writevSync(fd, rest, pos);
    if (written <= 0) throw new Error('write made no progress');
    pos += written;
    rest = skipBytes(rest, written);
  }
}

/** The buffers after the first `n` bytes. */
function skipBytes(bufs: Buffer[], n: number): Buffer[] {
  let skip = n;
  const next: Buffer[] = [];
  for (const b of bufs) {
    if (skip >= b.length) skip -= b.length;
    else {
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return next;
}

/** writev until every byte is written (a regular file may take fewer bytes than asked). */
async function writeAll(h: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let left = bufs.reduce((n, b) => n + b.length, 0);
  let pos = position;
  while (left > 0) {
    const { bytesWritten } = await h.writev(rest, pos);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    left -= bytesWritten;
    pos += bytesWritten;
    rest = skipBytes(rest, bytesWritten);
  }
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

// ------------------------------------------------------------------------------------ open and recovery

export interface SegmentLogOptions {
  /** Roll to a new segment once the last one reaches this many bytes (default 64 MiB; tests use less). */
  readonly segmentBytes?: number;
  /** Switch journals (and checkpoint) once the one in use holds this many bytes (default 64 MiB; tests use less). */
  readonly journalBytes?: number;
}

/** Opens (creating if needed) the log under `logDir`, recovering from a crash if there was one. */
export async function openSegmentLog(logDir: string, options: SegmentLogOptions = {}): Promise<SegmentLogStore> {
  const createdLog = mkdirSync(logDir, { recursive: true });
  if (createdLog !== undefined) fsyncPathSync(dirname(logDir));
  const trash = join(logDir, TRASH_DIR);
  rmSync(trash, { recursive: true, force: true });
  mkdirSync(trash);
  const commitPath = join(logDir, COMMIT_FILE);
  const slots = existsSync(commitPath) ? readSlots(commitPath) : undefined;
  // Every round after the last checkpoint is in the journals: write them back into the segments
  // first, so that the scan below finds them whole whatever the crash left of those files.
  if (slots !== undefined) replayRounds(logDir, roundsAfter(readJournals(logDir, slots.checkpoint), slots.checkpoint));
  const shardDirs: { ref: ShardRef; dir: string }[] = [];
  for (const s of readdirSync(logDir)) {
    if (!/^\d+$/.test(s)) continue;
    for (const i of readdirSync(join(logDir, s))) {
      if (/^\d+$/.test(i)) shardDirs.push({ ref: { streamId: Number(s), shardIndex: Number(i) }, dir: join(logDir, s, i) });
    }
  }
  let committed: number;
  let nextSlot = 1;
  if (slots !== undefined) {
    committed = slots.checkpoint;
    nextSlot = slots.next;
  } else {
    if (shardDirs.length > 0) throw new Error(`${commitPath} is missing but ${logDir} holds shard data`);
    const fd = openSync(commitPath, 'w');
    try {
      writeSync(fd, slot(0), 0, COMMIT_SLOT_BYTES, 0);
      writeSync(fd, slot(0), 0, COMMIT_SLOT_BYTES, COMMIT_SLOT_STRIDE);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    committed = 0;
  }
  fsyncPathSync(logDir);
  const shards = new Map<string, ShardState>();
  const tails = new Map<ShardState, TailPart>();
  for (const { ref, dir } of shardDirs) {
    const st = new ShardState(ref, shardKey(ref), logDir);
    const tail = recoverShard(st, committed);
    if (tail !== undefined) tails.set(st, tail);
    shards.set(st.key, st);
  }
  // The highest round above the commit file: kept if all its parts are whole, else cut everywhere.
  let top: number | undefined;
  for (const t of tails.values()) if (t.round > committed && (top === undefined || t.round > top)) top = t.round;
  if (top !== undefined) {
    const parts = [...tails].filter(([, t]) => t.round === top);
    const whole = parts.filter(([, t]) => t.whole).length;
    if (whole >= parts[0]![1].parts) {
      committed = top;
      // Kept, but it may be in the page cache only (a round whose journal record was not written):
      // make it durable before the commit file says so.
      for (const [, t] of parts) fsyncPathSync(t.path);
    } else {
      for (const [st, t] of parts) {
        const fd = openSync(t.path, 'r+');
        try {
          ftruncateSync(fd, t.at);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        const fresh = new ShardState(st.ref, st.key, logDir);
        recoverShard(fresh, committed);
        shards.set(fresh.key, fresh);
      }
      committed = Math.max(committed, top - 1);
    }
  }
  const commit = await open(commitPath, 'r+');
  if (committed !== (slots?.checkpoint ?? 0)) {
    // Every round up to `committed` is now durable in the segments: a checkpoint. The journals
    // hold no round after it, so the store can write them from their start.
    writeSync(commit.fd, slot(committed), 0, COMMIT_SLOT_BYTES, nextSlot * COMMIT_SLOT_STRIDE);
    fsyncSync(commit.fd);
    nextSlot = 1 - nextSlot;
  }
  const journals: FileHandle[] = [];
  let madeJournal = false;
  for (const f of JOURNAL_FILES) {
    const path = join(logDir, f);
    if (!existsSync(path)) madeJournal = true;
    journals.push(await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o644));
  }
  if (madeJournal) fsyncPathSync(logDir);
  return new SegmentLogStore(logDir, commit, committed, nextSlot, journals, shards, {
    segmentBytes: options.segmentBytes ?? SEGMENT_ROLL_BYTES,
    journalBytes: options.journalBytes ?? JOURNAL_ROTATE_BYTES,
  });
}

/** The commit file's last checkpoint, and the slot the next one goes to (the other one). */
function readSlots(commitPath: string): { checkpoint: number; next: number } {
  const b = readFileSync(commitPath);
  const a = readSlot(b, 0);
  const c = readSlot(b, COMMIT_SLOT_STRIDE);
  if (a === undefined && c === undefined) throw new Error(`corrupt commit file ${commitPath}: no valid slot`);
  if (c === undefined || (a !== undefined && a >= c)) return { checkpoint: a!, next: 1 };
  return { checkpoint: c, next: 0 };
}


/** The last round part of a shard's last segment, as recovery found it. */
interface TailPart {
  readonly path: string;
  /** File offset of its round-part frame. */
  readonly at: number;
  readonly round: number;
  readonly parts: number;
  /** Every frame of its declared length is there and sound. */
  readonly whole: boolean;
}

/**
 * Scans a shard's segments into `st`, truncating a torn tail and finishing interrupted trims;
 * returns the last round part of its last segment, for the caller to judge.
 */
function recoverShard(st: ShardState, committed: number): TailPart | undefined {
  const names = readdirSync(st.dir).filter((n) => SEGMENT_NAME.test(n)).sort();
  let dirty = false;
  let tail: TailPart | undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const path = join(st.dir, name);
    const isLast = i === names.length - 1;
    const seg = scanSegment(st, path, BigInt(name.slice(0, 20)), isLast, committed, isLast ? (t) => (tail = t) : undefined);
    if (seg === undefined) {
      unlinkSync(path);
      dirty = true;
    } else {
      st.segments.push(seg);
      st.nextSeq++;
    }
  }
  const floor = readTrim(st.dir);
  if (floor !== undefined) {
    // Finish a trim that a crash interrupted.
    while (st.segments[0] !== undefined && st.segments[0].last < floor) {
      unlinkSync(st.segments.shift()!.path);
      dirty = true;
    }
    const first = st.segments[0];
    if (first === undefined) {
      // Nothing left: a floor would only hide records appended later.
      unlinkSync(join(st.dir, TRIM_FILE));
      dirty = true;
      st.lastPos = undefined;
      st.clearIndex();
    } else {
      st.dropEntriesBefore(first.seq);
      st.lowWater = floor;
    }
  }
  if (dirty) fsyncPathSync(st.dir);
  return tail;
}

/**
 * Scans one segment, noting its records in `st`. The last segment of a shard is checked frame by
 * frame (CRC, committed round) and truncated where that fails; undefined = the segment holds no
 * committed record and must be removed. Any other segment must be whole.
 */
function scanSegment(
  st: ShardState,
  path: string,
  first: bigint,
  isLast: boolean,
  committed: number,
  onTail?: (t: TailPart) => void,
): Segment | undefined {
  const fd = openSync(path, isLast ? 'r+' : 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const corrupt = (at: number, why: string): Error => new Error(`corrupt log segment ${path} at ${at}: ${why}`);
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    if (fileSize < SEGMENT_HEADER_BYTES || readSync(fd, head, 0, SEGMENT_HEADER_BYTES, 0) !== SEGMENT_HEADER_BYTES || !head.equals(SEGMENT_MAGIC)) {
      if (isLast) return undefined;
      throw corrupt(0, 'bad segment header');
    }
    const seq = st.nextSeq;
    st.startSegment();
    let buf = Buffer.allocUnsafe(SCAN_BYTES);
    let bufStart = SEGMENT_HEADER_BYTES; // file offset of buf[0]
    let bufEnd = 0; // valid bytes in buf
    let at = 0;
    let cut: number | undefined;
    let records = 0;
    let last = 0n;
    let part: { at: number; round: number; parts: number; end: number } | undefined;
    for (;;) {
      const size = frameAt(buf, at, bufEnd, isLast);
      const fileAt = bufStart + at;
      if (size === FRAME_SHORT) {
        if (bufStart + bufEnd >= fileSize) {
          if (at === bufEnd) break; // clean end
          if (!isLast) throw corrupt(fileAt, 'torn frame');
          cut = fileAt;
          break;
        }
        // Slide the unread bytes to the front and read more; grow for a frame bigger than the buffer.
        const need = bufEnd - at >= FRAME_HEAD_BYTES ? FRAME_HEAD_BYTES + buf.readUInt32LE(at) : 0;
        if (need > buf.length) {
          const bigger = Buffer.allocUnsafe(need);
          buf.copy(bigger, 0, at, bufEnd);
          buf = bigger;
        } else buf.copyWithin(0, at, bufEnd);
        bufStart += at;
        bufEnd -= at;
        at = 0;
        const n = readSync(fd, buf, bufEnd, Math.min(buf.length - bufEnd, fileSize - (bufStart + bufEnd)), bufStart + bufEnd);
        if (n <= 0) throw corrupt(bufStart + bufEnd, 'short read');
        bufEnd += n;
        continue;
      }
      if (size === FRAME_BAD) {
        if (!isLast) throw corrupt(fileAt, frameProblem(buf, at, bufEnd));
        cut = fileAt;
        break;
      }
      const body = at + FRAME_HEAD_BYTES;
      if (buf[body] === KIND_ROUND_PART) {
        part = { at: fileAt, round: roundOf(buf, at), parts: roundPartsOf(buf, at), end: fileAt + size + roundBytesOf(buf, at) };
      } else if (buf[body] === KIND_ROUND) {
        const round = roundOf(buf, at);
        if (round > committed) {
          if (!isLast) throw corrupt(fileAt, `round ${round} above the committed ${committed}`);
          cut = fileAt;
          break;
        }
      } else {
        const position = recordPosition(buf, body);
        if (st.lastPos !== undefined && position <= st.lastPos) {
          if (!isLast) throw corrupt(fileAt, `position ${position} after ${st.lastPos}`);
          cut = fileAt;
          break;
        }
        st.noteRecord(position, recordArrival(buf, body), seq, fileAt, size);
        records++;
        last = position;
      }
      at += size;
    }
    if (cut !== undefined) {
      ftruncateSync(fd, cut);
      fsyncSync(fd);
    }
    if (part !== undefined) onTail?.({ path, at: part.at, round: part.round, parts: part.parts, whole: (cut ?? fileSize) >= part.end });
    if (records === 0) return undefined;
    return { seq, first, path, size: cut ?? fileSize, last };
  } finally {
    closeSync(fd);
  }
}

// ------------------------------------------------------------------------------------ the store

export class SegmentLogStore implements LogStore {
  readonly #logDir: string;
  readonly #commit: FileHandle;
  /** The last committed round. */
  #committed: number;
  /** The commit file's slot (0 or 1) that the next checkpoint writes: never the one holding the last. */
  #nextSlot: number;
  /** The two journal files (commit-log.ts); rounds are written to `#journal` from `#journalAt` on. */
  readonly #journals: FileHandle[];
  #journal = 0;
  #journalAt = 0;
  readonly #journalBytes: number;
  readonly #relPaths = new WeakMap<Segment, string>();
  /** Segment files written since the last checkpoint began: the next one syncs them. */
  #dirty = new Set<string>();
  /** The checkpoint under way, if any, and the round of the last one done. */
  #checkpointing: Promise<void> | undefined;
  #checkpointRound: number;
  readonly #shards: Map<string, ShardState>;
  readonly #files = new FileHandles(MAX_OPEN_FILES);
  readonly #queue: Queued[] = [];
  #draining: Promise<void> | undefined;
  /** Set when a round failed part-way: the files may hold frames we could not commit, so no more writes. */
  #failed: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Shards with cached tail records, least recently appended first. */
  readonly #cacheLru = new Map<ShardState, true>();
  #cacheBytes = 0;
  #trashSeq = 0;
  readonly #segmentBytes: number;
  /** Group commits made, and the appends they carried (diagnostics: bench/storage.mjs). */
  readonly stats = { rounds: 0, appends: 0 };
  /** Moving average of durable write times, ms: fast enough to write on the event loop? */
  #syncMs = 0;

  constructor(
    logDir: string,
    commit: FileHandle,
    committed: number,
    nextSlot: number,
    journals: FileHandle[],
    shards: Map<string, ShardState>,
    sizes: { segmentBytes: number; journalBytes: number },
  ) {
    this.#segmentBytes = sizes.segmentBytes;
    this.#journalBytes = sizes.journalBytes;
    this.#logDir = logDir;
    this.#commit = commit;
    this.#committed = committed;
    this.#checkpointRound = committed;
    this.#nextSlot = nextSlot;
    this.#journals = journals;
    this.#shards = shards;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('storage is closed');
  }

  async append(entries: readonly AppendEntry[]): Promise<void> {
    this.#checkOpen();
    if (entries.length === 0) return;
    return this.#enqueue(encodeAppend(entries));
  }

  async appendColumns(batch: ColumnAppend): Promise<void> {
    this.#checkOpen();
    const chunks = encodeColumns(batch);
    if (chunks.length === 0) return;
    return this.#enqueue(chunks);
  }

  #enqueue(chunks: ShardChunk[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind: 'append', append: { chunks, resolve, reject } });
      this.#kick();
    });
  }

  /** Runs `run` between rounds, in call order with appends. */
  #task(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind: 'task', run, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    // Let appends made in the same tick join the first round.
    await null;
    for (;;) {
      const head = this.#queue[0];
      if (head === undefined) return;
      if (head.kind === 'task') {
        this.#queue.shift();
        try {
          if (this.#failed !== undefined) throw this.#failed;
          await head.run();
          head.resolve();
        } catch (e) {
          head.reject(e);
        }
        continue;
      }
      const batch: Pending[] = [];
      while (this.#queue[0]?.kind === 'append') batch.push((this.#queue.shift() as { append: Pending }).append);
      await this.#round(batch);
    }
  }

  async #round(batch: Pending[]): Promise<void> {
    if (this.#failed !== undefined) {
      for (const a of batch) a.reject(this.#failed);
      return;
    }
    // Positions must be above what is stored, counting earlier appends of this round.
    const tails = new Map<string, bigint | undefined>();
    const accepted: Pending[] = [];
    for (const a of batch) {
      let clash: string | undefined;
      for (const c of a.chunks) {
        const last = tails.has(c.key) ? tails.get(c.key) : this.#shards.get(c.key)?.lastLive();
        if (last !== undefined && c.first <= last) {
          clash = `position ${c.first} is not above the last stored position ${last} of shard ${c.key}`;
          break;
        }
      }
      if (clash !== undefined) {
        a.reject(new RangeError(clash));
        continue;
      }
      for (const c of a.chunks) tails.set(c.key, c.last);
      accepted.push(a);
    }
    if (accepted.length === 0) return;
    const perShard = new Map<string, ShardChunk[]>();
    for (const a of accepted) {
      for (const c of a.chunks) {
        const list = perShard.get(c.key);
        if (list === undefined) perShard.set(c.key, [c]);
        else list.push(c);
      }
    }
    const round = this.#committed + 1;
    const written: Written[] = [];
    try {
      if (this.#journalAt >= this.#journalBytes) await this.#switchJournal();
      // Step 1: every shard's part of the round laid out (and its segment file made, if new).
      for (const chunks of perShard.values()) written.push(await this.#prepareShard(chunks, round, perShard.size));
      // Step 2: the round's journal record, durable on return. From here on the round survives a crash.
      await this.#log(round, written);
      // Step 3: the parts into their segments, through the page cache. Only now: written while the
      // journal write's sync was under way, they would wait on the file system's own journal commit
      // (ext4 holds new metadata changes while it commits), with the event loop blocked.
      for (const w of written) {
        writeAllSync(w.lease.handle.fd, w.bufs, w.fileAt);
        w.lease.release();
        this.#dirty.add(w.seg.path);
      }
    } catch (e) {
      for (const w of written) w.lease.release();
      this.#failed = new Error(`log store write failed; reopen the store to recover: ${(e as Error).message}`, { cause: e });
      for (const a of accepted) a.reject(this.#failed);
      return;
    }
    this.#committed = round;
    this.stats.rounds++;
    this.stats.appends += accepted.length;
    // Then visible to readers, and acknowledged.
    for (const w of written) this.#publish(w);
    for (const a of accepted) a.resolve();
  }

  /** Writes the round's journal record: one durable write for all its parts. */
  async #log(round: number, written: readonly Written[]): Promise<void> {
    const parts: JournalPart[] = written.map((w) => ({ path: this.#journalPath(w.seg), at: w.fileAt, bufs: w.bufs }));
    const bufs = [journalHead(round, parts)];
    let bytes = bufs[0]!.length;
    for (const p of parts) {
      for (const b of p.bufs) {
        bufs.push(b);
        bytes += b.length;
      }
    }
    const h = this.#journals[this.#journal]!;
    const t0 = performance.now();
    // Journal files are open with O_DSYNC: the write is durable on return.
    if (parts.length === 1 && bytes <= SYNC_WRITE_BYTES && this.#syncMs <= SYNC_INLINE_MS) writeAllSync(h.fd, bufs, this.#journalAt);
    else await writeAll(h, bufs, this.#journalAt);
    this.#syncMs = 0.9 * this.#syncMs + 0.1 * (performance.now() - t0);
    this.#journalAt += bytes;
  }

  /** The segment's path as journal records name it: relative to the log directory (made once per segment). */
  #journalPath(seg: Segment): string {
    let rel = this.#relPaths.get(seg);
    if (rel === undefined) {
      rel = relative(this.#logDir, seg.path);
      this.#relPaths.set(seg, rel);
    }
    return rel;
  }

  /**
   * Starts writing the other journal, from its start, and checkpoints the rounds of this one in
   * the background. The other journal can be written over once the checkpoint of its own rounds
   * (started when it was left) is done: waited for here.
   */
  async #switchJournal(): Promise<void> {
    if (this.#checkpointing !== undefined) await this.#checkpointing;
    if (this.#failed !== undefined) throw this.#failed;
    this.#journal = 1 - this.#journal;
    this.#journalAt = 0;
    this.#startCheckpoint();
  }

  /** Checkpoints every round committed so far, in the background (`#checkpointing`). */
  #startCheckpoint(): void {
    const upTo = this.#committed;
    const files = this.#dirty;
    this.#dirty = new Set();
    this.#checkpointing = this.#checkpoint(upTo, files)
      .catch((e: unknown) => {
        // The journals can no longer be written over safely.
        this.#failed ??= new Error(`log store checkpoint failed; reopen the store to recover: ${(e as Error).message}`, { cause: e });
      })
      .finally(() => {
        this.#checkpointing = undefined;
      });
  }

  /**
   * Syncs the segment files written by the rounds up to `upTo`, then records `upTo` in the commit
   * file (the slot not holding the last checkpoint, so that a torn write leaves that one).
   */
  async #checkpoint(upTo: number, files: ReadonlySet<string>): Promise<void> {
    await Promise.all(
      [...files].map(async (path) => {
        const lease = await this.#files.acquire(path);
        try {
          await lease.handle.datasync();
        } finally {
          lease.release();
        }
      }),
    );
    await writeAll(this.#commit, [slot(upTo)], this.#nextSlot * COMMIT_SLOT_STRIDE);
    await this.#commit.datasync();
    this.#nextSlot = 1 - this.#nextSlot;
    this.#checkpointRound = upTo;
  }

  /** A checkpoint of every committed round, done on return: before a trim or a drop deletes anything. */
  async #checkpointNow(): Promise<void> {
    if (this.#checkpointing !== undefined) await this.#checkpointing;
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#committed === this.#checkpointRound) return;
    this.#startCheckpoint();
    await this.#checkpointing;
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Lays out a shard's part of a round, creating a new segment file (and its directory) when one is due. */
  async #prepareShard(chunks: ShardChunk[], round: number, parts: number): Promise<Written> {
    const first = chunks[0]!;
    let st = this.#shards.get(first.key);
    if (st === undefined) {
      st = new ShardState(first.shard, first.key, this.#logDir);
      this.#shards.set(st.key, st);
    }
    const active = st.segments[st.segments.length - 1];
    const created = active === undefined || active.size >= this.#segmentBytes;
    const seg: Segment = created ? { seq: st.nextSeq, first: first.first, path: join(st.dir, segmentName(first.first)), size: 0, last: first.last } : active;
    let bytes = 0;
    for (const c of chunks) bytes += c.bytes.length;
    const head = roundPartFrame(round, parts, bytes);
    const bufs: Buffer[] = created ? [SEGMENT_MAGIC, head] : [head];
    for (const c of chunks) bufs.push(c.bytes);
    let madeDir: string | undefined;
    if (created) {
      madeDir = await mkdir(st.dir, { recursive: true });
      // A shard with no segment may still have a trim file from before: it must not outlive
      // the new segment (the directory sync below makes both changes durable together).
      if (st.segments.length === 0) await unlink(join(st.dir, TRIM_FILE)).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)));
    }
    const at = created ? 0 : seg.size;
    const lease = await this.#files.acquire(seg.path, created ? CREATE : undefined);
    if (created) {
      try {
        const syncs = [fsyncDir(st.dir)];
        if (madeDir !== undefined) {
          // mkdir made `madeDir` and everything below it: sync the parent of each.
          const streamDir = dirname(st.dir);
          syncs.push(fsyncDir(streamDir));
          if (madeDir === streamDir) syncs.push(fsyncDir(this.#logDir));
        }
        await Promise.all(syncs);
      } catch (e) {
        lease.release();
        throw e;
      }
    }
    return { st, seg, created, chunks, fileAt: at, bufs, lease };
  }

  #publish(w: Written): void {
    const { st, seg, chunks } = w;
    if (w.created) {
      if (st.segments.length === 0) {
        // A first segment (new shard, or every record trimmed before): no floor applies.
        st.lowWater = 0n;
        st.clearIndex();
      }
      st.segments.push(seg);
      st.nextSeq = seg.seq + 1;
      st.startSegment();
    }
    // The round-part frame follows the segment header in a segment the round created.
    let at = (w.created ? SEGMENT_HEADER_BYTES : w.fileAt) + ROUND_PART_FRAME_BYTES;
    let cached = 0;
    for (const c of chunks) {
      const n = c.offsets.length;
      for (let j = 0; j < n; j++) {
        const start = c.offsets[j]!;
        const end = j + 1 < n ? c.offsets[j + 1]! : c.bytes.length;
        if (c.positions !== undefined) st.noteRecord(c.positions[j]!, c.arrivals![j]!, seg.seq, at + start, end - start);
        // A run: a position is made only for the records that get an index entry.
        else if (st.entryDue()) st.noteRecord(c.first + BigInt(j), c.arrivalMs, seg.seq, at + start, end - start);
        else st.skipRecord(end - start);
      }
      if (c.positions === undefined) st.noteLast(c.last, c.arrivalMs);
      cached += st.cacheAdd(c.bytes, c.offsets, TAIL_CACHE_PER_SHARD);
      at += c.bytes.length;
    }
    seg.size = at;
    seg.last = st.lastPos!;
    this.#cacheBytes += cached;
    this.#cacheLru.delete(st);
    this.#cacheLru.set(st, true);
    for (const other of this.#cacheLru.keys()) {
      if (this.#cacheBytes <= TAIL_CACHE_TOTAL || other === st) break;
      this.#cacheBytes -= other.cacheClear();
      this.#cacheLru.delete(other);
    }
  }

  async read(shard: ShardRef, from: bigint, limits: ReadLimits): Promise<StoredRecord[]> {
    checkShard(shard);
    this.#checkOpen();
    const out: StoredRecord[] = [];
    const st = this.#shards.get(shardKey(shard));
    if (st === undefined || !(limits.maxRecords >= 1) || from > MAX_U64) return out;
    const last = st.lastLive();
    const p = from < st.lowWater ? st.lowWater : from;
    if (last === undefined || p > last) return out;
    const max = Math.min(limits.maxRecords, 2 ** 32);
    const maxBytes = limits.maxBytes;
    let bytes = 0;
    const cached = st.cacheRead(p, max, maxBytes);
    if (cached !== undefined) return cached;
    const e = st.entryForPosition(p);
    await this.#walk(st, st.idxSeq[e]!, st.idxOff[e]!, true, READ_FIRST_BYTES, (buf, body, bodyLen) => {
      if (recordPosition(buf, body) < p) return true;
      out.push(decodeRecord(buf, body, bodyLen));
      bytes += bodyLen - RECORD_FIXED_BYTES;
      return out.length < max && bytes < maxBytes;
    });
    return out;
  }

  /**
   * Visits the record frames of a shard from (segment seq, offset) on, in order, up to the durable
   * end, until `visit` returns false. Reads grow from 64 KiB to 1 MiB as the scan goes on.
   */
  async #walk(
    st: ShardState,
    seq: number,
    offset: number,
    verify: boolean,
    firstRead: number,
    visit: (buf: Buffer, body: number, bodyLen: number) => boolean,
  ): Promise<void> {
    let chunk = firstRead;
    let off = offset;
    for (;;) {
      const seg = st.segmentBySeq(seq);
      if (seg === undefined) return; // trimmed or dropped meanwhile
      const end = seg.size;
      if (off >= end) {
        if (seg === st.segments[st.segments.length - 1]) return;
        seq++;
        off = SEGMENT_HEADER_BYTES;
        continue;
      }
      const len = Math.min(chunk, end - off);
      let buf: Buffer;
      try {
        buf = await this.#pread(seg.path, off, len);
      } catch (e) {
        if (isMissing(e)) return; // deleted by a trim or drop while we read
        throw e;
      }
      let at = 0;
      for (;;) {
        const size = frameAt(buf, at, buf.length, verify);
        if (size === FRAME_SHORT) break;
        if (size === FRAME_BAD) throw new Error(`corrupt log segment ${seg.path} at ${off + at}: ${frameProblem(buf, at, buf.length)}`);
        const body = at + FRAME_HEAD_BYTES;
        if (buf[body] === KIND_RECORD && !visit(buf, body, size - FRAME_HEAD_BYTES)) return;
        at += size;
      }
      if (at === 0) {
        if (buf.length < len) return; // the file shrank: trimmed or dropped meanwhile
        // One frame larger than the read: read exactly that frame next time.
        const need = buf.length < FRAME_HEAD_BYTES ? Infinity : FRAME_HEAD_BYTES + buf.readUInt32LE(0);
        if (need <= buf.length || need > end - off) throw new Error(`corrupt log segment ${seg.path} at ${off}: frame past the durable end`);
        chunk = need;
        continue;
      }
      off += at;
      chunk = Math.min(chunk * 2, READ_MAX_BYTES);
    }
  }

  async #pread(path: string, off: number, len: number): Promise<Buffer> {
    const lease = await this.#files.acquire(path);
    try {
      const buf = Buffer.allocUnsafeSlow(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await lease.handle.read(buf, got, len - got, off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === len ? buf : buf.subarray(0, got);
    } finally {
      lease.release();
    }
  }

  async lastPosition(shard: ShardRef): Promise<bigint | undefined> {
    checkShard(shard);
    this.#checkOpen();
    return this.#shards.get(shardKey(shard))?.lastLive();
  }

  async positionAtTime(shard: ShardRef, atMs: number): Promise<bigint | undefined> {
    checkShard(shard);
    this.#checkOpen();
    if (Number.isNaN(atMs)) throw new RangeError('atMs must be a number of epoch milliseconds, not NaN');
    const st = this.#shards.get(shardKey(shard));
    if (st === undefined || st.lastLive() === undefined || atMs > st.lastArrival) return undefined;
    const floor = st.lowWater;
    // Start at the later of: the last entry arriving before atMs, the entry for the trim floor.
    const e = Math.max(st.entryForTime(atMs), st.entryForPosition(floor));
    let found: bigint | undefined;
    // The answer is at most one index interval (16 KiB) past the entry: read a little more than that first.
    await this.#walk(st, st.idxSeq[e]!, st.idxOff[e]!, false, TIME_SCAN_FIRST_BYTES, (buf, body) => {
      if (recordArrival(buf, body) < atMs) return true;
      const p = recordPosition(buf, body);
      if (p < floor) return true;
      found = p;
      return false;
    });
    return found;
  }

  async trim(shard: ShardRef, before: bigint): Promise<void> {
    checkShard(shard);
    this.#checkOpen();
    if (before <= 0n) return;
    const key = shardKey(shard);
    return this.#task(async () => {
      const st = this.#shards.get(key);
      if (st === undefined || before <= st.lowWater) return;
      st.lowWater = before;
      const gone: Segment[] = [];
      while (st.segments[0] !== undefined && st.segments[0].last < before) gone.push(st.segments.shift()!);
      const first = st.segments[0];
      if (first === undefined) {
        st.lastPos = undefined;
        st.clearIndex();
        this.#cacheBytes -= st.cacheClear();
        this.#cacheLru.delete(st);
      } else {
        st.dropEntriesBefore(first.seq);
        // Persist the floor only if records below it remain. Not synced: see "Trims" above.
        if (before > first.first) await writeFile(join(st.dir, TRIM_FILE), trimBytes(before));
      }
      if (gone.length > 0) await this.#checkpointNow();
      for (const seg of gone) {
        this.#files.forget(seg.path);
        await unlink(seg.path).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)));
      }
    });
  }

  async dropShard(shard: ShardRef): Promise<void> {
    checkShard(shard);
    this.#checkOpen();
    const key = shardKey(shard);
    return this.#task(async () => {
      // Nothing of the shard may be left to replay once its directory is gone.
      await this.#checkpointNow();
      const st = this.#shards.get(key) ?? new ShardState(shard, key, this.#logDir);
      this.#shards.delete(key);
      this.#cacheBytes -= st.cacheClear();
      this.#cacheLru.delete(st);
      this.#files.forget(st.dir + '/');
      const trash = join(this.#logDir, TRASH_DIR, `${shard.streamId}-${shard.shardIndex}-${++this.#trashSeq}`);
      try {
        await rename(st.dir, trash);
      } catch (e) {
        if (isMissing(e)) return;
        throw e;
      }
      // The rename is the drop: make it durable, then delete at leisure (open empties .trash too).
      await fsyncDir(dirname(st.dir));
      await rm(trash, { recursive: true, force: true });
    });
  }

  /** Waits for queued work, then closes every file. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      while (this.#draining !== undefined) await this.#draining;
      if (this.#failed === undefined) await this.#checkpointNow().catch(() => undefined);
      else if (this.#checkpointing !== undefined) await this.#checkpointing;
      await this.#files.closeAll();
      await this.#commit.close();
      await Promise.all(this.#journals.map((h) => h.close()));
    })();
    return this.#closing;
  }
}
