// One flow: the files matching its filePattern, tailed through rotation, cut into records,
// converted, and handed to its sink.
//
// Files are known by (st_dev, st_ino), so a file renamed by rotation keeps its reading state under
// its new name and is read to its end, while the newly created file is read from its start. Every
// file matching the pattern is tailed, oldest first (the Java agent follows only the newest and
// infers rotations from sizes and timestamps; following each inode needs no inference).
//
// copytruncate: the live file shrinks below what was read, or its first bytes change. Its reading
// state is set aside for a while; a new file whose first bytes (and, once it is long enough, the
// bytes before that offset) are the same is the copy, and it continues from there, so lines written
// between the last read and the copy are sent once. A new file that could be a copy of a live file
// (same first bytes, not yet truncated) is held back for that while before it is read.
import { createHash } from 'node:crypto';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ANCHOR_BYTES, type FileCheckpoint, HEAD_BYTES, hashBytes } from './checkpoints.js';
import type { FlowConfig } from './config.js';
import { Cursor, type WindowEntry } from './cursor.js';
import { isIgnoredFile } from './glob.js';
import { type Converter, createConverterChain } from './processing.js';
import type { Piece, RecordReaderOptions } from './record-reader.js';
import type { Sink } from './sinks.js';

export interface FlowMetrics {
  /** Files being tailed now. */
  filesTailed: number;
  /** Records cut from files (skipped header and footer lines are not records). */
  recordsParsed: number;
  bytesConsumed: number;
  /** Records that went through dataProcessingOptions. */
  recordsTransformed: number;
  /** Records dropped by a converter (LOGTOJSON on a line that does not match) or failing conversion. */
  recordsSkipped: number;
  /** Records the destination acknowledged. */
  recordsSent: number;
  bytesSent: number;
  /** Send attempts that failed (each is retried). */
  recordSendErrors: number;
  recordsInFlight: number;
  /** Bytes in tailed files not read yet. */
  bytesBehind: number;
}

type Log = (level: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG', message: string) => void;

export interface FlowDeps {
  readonly sink: Sink;
  readonly log: Log;
  readonly now: () => number;
  /** Checkpoints found at start for this flow; undefined when the flow has none (first run). */
  readonly checkpoints: readonly FileCheckpoint[] | undefined;
  readonly checkpointTtlMs: number;
  /** Called when what the checkpoint file should hold changed (an offset moved, a file was found). */
  readonly onProgress: () => void;
}

interface Listed {
  readonly key: string;
  readonly dev: string;
  readonly ino: string;
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

interface Tracked {
  readonly key: string;
  readonly dev: string;
  readonly ino: string;
  path: string;
  /** Renamed since first seen (rotated away). */
  moved: boolean;
  present: boolean;
  fh: FileHandle | undefined;
  size: number;
  mtimeMs: number;
  head: Buffer;
  headHash: string;
  cursor: Cursor;
  lastChangeAt: number;
  seenAt: number;
}

interface Orphan {
  readonly cursor: Cursor;
  readonly head: Buffer;
  readonly since: number;
  readonly path: string;
}

const READ_CHUNK = 1024 * 1024;
const FORGET_AFTER_MS = 60_000;
const IDLE_CLOSE_MS = 60_000;
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

export class Flow {
  readonly config: FlowConfig;
  readonly #d: FlowDeps;
  readonly #convert: Converter;
  readonly #hasConverters: boolean;
  readonly #readerOptions: RecordReaderOptions;
  readonly #holdMs: number;
  readonly #goneGraceMs: number;
  readonly #maxInFlightRecords: number;
  readonly #tracked = new Map<string, Tracked>();
  /** New files that may be copies, by key, with when they were first seen. */
  readonly #held = new Map<string, number>();
  #orphans: Orphan[] = [];
  /** Cursors of files no longer tracked whose records are still in flight. */
  readonly #retired = new Set<Cursor>();
  /**
   * Files that left the listing, kept for a while: a file can drop out of one listing (a rename
   * racing readdir and stat) or leave the pattern and come back, and must then continue, not restart.
   */
  readonly #forgotten = new Map<string, { t: Tracked; at: number }>();
  /** Checkpoints of files not tracked now, kept until their TTL for copy recognition. */
  #dormant = new Map<string, FileCheckpoint>();
  #initialScanDone = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #lastErrorLog = 0;
  readonly #m = { recordsParsed: 0, bytesConsumed: 0, recordsTransformed: 0, recordsSkipped: 0, recordsSent: 0, bytesSent: 0, recordSendErrors: 0 };

  constructor(config: FlowConfig, deps: FlowDeps) {
    this.config = config;
    this.#d = deps;
    this.#convert = createConverterChain(config.dataProcessingOptions, deps.now);
    this.#hasConverters = config.dataProcessingOptions.length > 0;
    this.#readerOptions = {
      multiLineStartPattern: config.multiLineStartPattern,
      fileFooterPattern: config.fileFooterPattern,
      // The agent's parser buffer is the destination's batch size.
      maxRecordBytes: config.destination.kind === 'kinesis' ? 5 * 1024 * 1024 : 4 * 1024 * 1024,
    };
    this.#holdMs = Math.max(1000, 10 * config.minTimeBetweenFilePollsMillis);
    this.#goneGraceMs = Math.max(1000, 10 * config.minTimeBetweenFilePollsMillis);
    this.#maxInFlightRecords = config.publishQueueCapacity * config.maxBufferSizeRecords;
    for (const c of deps.checkpoints ?? []) this.#dormant.set(`${c.dev}:${c.ino}`, c);
  }

  get id(): string {
    return this.config.id;
  }

  /** Counts a failed send attempt (the sink's event). */
  recordSendErrors(n: number): void {
    this.#m.recordSendErrors += n;
  }

  /** Takes the first look at the files (initialPosition applies to what is there now) and starts polling. */
  async start(): Promise<void> {
    this.#ticking = this.#tick();
    await this.#ticking;
    this.#ticking = undefined;
    this.#schedule(this.config.minTimeBetweenFilePollsMillis);
  }

  /** Stops reading; records already handed to the sink are still tracked. */
  async stopReading(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }

  /** Resolves once no record of this flow is waiting for the destination. */
  async drained(): Promise<void> {
    for (;;) {
      const cursors = [...this.#cursors()].filter((c) => c.inFlight > 0);
      if (cursors.length === 0) return;
      await Promise.all(cursors.map((c) => c.whenDrained()));
    }
  }

  async closeFiles(): Promise<void> {
    for (const t of this.#tracked.values()) {
      const fh = t.fh;
      t.fh = undefined;
      await fh?.close().catch(() => undefined);
    }
  }

  metrics(): FlowMetrics {
    let inFlight = 0;
    for (const c of this.#cursors()) inFlight += c.inFlight;
    let behind = 0;
    for (const t of this.#tracked.values()) behind += Math.max(0, t.size - t.cursor.readOffset);
    return { filesTailed: this.#tracked.size, ...this.#m, recordsInFlight: inFlight, bytesBehind: behind };
  }

  /** What the checkpoint file should hold for this flow now. */
  checkpoints(): FileCheckpoint[] {
    const now = this.#d.now();
    const out: FileCheckpoint[] = [];
    for (const t of this.#tracked.values()) out.push(this.#entry(t, now));
    for (const { t } of this.#forgotten.values()) out.push(this.#entry(t));
    for (const [key, c] of this.#dormant) {
      if (this.#tracked.has(key) || this.#forgotten.has(key)) continue;
      if (now - c.seenAt > this.#d.checkpointTtlMs) this.#dormant.delete(key);
      else out.push(c);
    }
    return out;
  }

  #entry(t: Tracked, now?: number): FileCheckpoint {
    const tail = t.cursor.ackedTail;
    const acked = t.cursor.ackedRanges();
    return {
      path: t.path,
      dev: t.dev,
      ino: t.ino,
      headLength: t.head.length,
      headHash: t.headHash,
      offset: t.cursor.ackedOffset,
      ...(acked.length > 0 ? { acked } : {}),
      anchorLength: tail.length,
      anchorHash: hashBytes(tail),
      seenAt: t.present && now !== undefined ? now : t.seenAt,
    };
  }

  *#cursors(): Iterable<Cursor> {
    for (const t of this.#tracked.values()) yield t.cursor;
    for (const { t } of this.#forgotten.values()) yield t.cursor;
    for (const o of this.#orphans) yield o.cursor;
    yield* this.#retired;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#ticking = this.#tick().finally(() => {
        this.#ticking = undefined;
        this.#schedule(this.config.minTimeBetweenFilePollsMillis);
      });
    }, ms);
  }

  async #tick(): Promise<void> {
    try {
      await this.#poll();
    } catch (e) {
      const now = this.#d.now();
      if (now - this.#lastErrorLog > 10_000) {
        this.#lastErrorLog = now;
        this.#d.log('ERROR', `${this.id}: tailing failed, will retry: ${(e as Error).message}`);
      }
    }
  }

  async #poll(): Promise<void> {
    const now = this.#d.now();
    const listing = await this.#list();
    // 1. What happened to the files being tailed.
    for (const t of this.#tracked.values()) {
      const l = listing.get(t.key);
      if (l === undefined) {
        if (t.present) {
          t.present = false;
          t.seenAt = now;
          this.#d.log('DEBUG', `${this.id}: ${t.path} is gone (rotated out of the pattern or deleted); reading what is left`);
          // Renamed before it was ever opened: find it by its inode, so that what is left (and
          // what the application still appends to it) is read through a descriptor.
          t.fh ??= await this.#openByInode(t);
        }
        continue;
      }
      t.present = true;
      t.seenAt = now;
      if (l.path !== t.path) {
        this.#d.log('DEBUG', `${this.id}: ${t.path} was renamed to ${l.path}`);
        t.path = l.path;
        t.moved = true;
      }
      if (l.size !== t.size || l.mtimeMs !== t.mtimeMs) {
        t.size = l.size;
        t.mtimeMs = l.mtimeMs;
        t.lastChangeAt = now;
        await this.#checkRewritten(t, now);
      }
    }
    // 2. Files not seen before, oldest first.
    const fresh = [...listing.values()].filter((l) => !this.#tracked.has(l.key)).sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const l of fresh) await this.#admit(l, now);
    for (const key of this.#held.keys()) if (!listing.has(key)) this.#held.delete(key);
    this.#initialScanDone = true;
    // 3. Copies that did not turn up in time.
    this.#orphans = this.#orphans.filter((o) => {
      if (now - o.since <= this.#holdMs) return true;
      if (o.cursor.inFlight > 0) this.#retired.add(o.cursor);
      return false;
    });
    for (const [key, f] of this.#forgotten) {
      if (now - f.at < FORGET_AFTER_MS) continue;
      this.#forgotten.delete(key);
      this.#dormant.set(key, this.#entry(f.t));
      if (f.t.cursor.inFlight > 0) this.#retired.add(f.t.cursor);
    }
    for (const c of this.#retired) if (c.inFlight === 0) this.#retired.delete(c);
    // 4. Read, oldest file first.
    const files = [...this.#tracked.values()].sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const t of files) {
      if (this.#stopped) break;
      await this.#read(t, now);
    }
  }

  async #list(): Promise<Map<string, Listed>> {
    const dir = this.config.filePattern.directory;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    const out = new Map<string, Listed>();
    for (const name of names) {
      if (!this.config.filePattern.matcher.test(name) || isIgnoredFile(name)) continue;
      const path = join(dir, name);
      try {
        const s = await stat(path, { bigint: true });
        if (!s.isFile()) continue;
        const key = `${s.dev}:${s.ino}`;
        out.set(key, { key, dev: String(s.dev), ino: String(s.ino), path, size: Number(s.size), mtimeMs: Number(s.mtimeMs) });
      } catch {
        /* gone between readdir and stat */
      }
    }
    return out;
  }

  /** A tracked file that shrank below what was read, or whose first bytes changed, was truncated. */
  async #checkRewritten(t: Tracked, now: number): Promise<void> {
    let truncated = t.size < t.cursor.readOffset;
    let head: Buffer | undefined;
    if (!truncated) {
      head = await this.#readHead(t);
      if (head !== undefined) {
        const n = Math.min(head.length, t.head.length);
        truncated = !head.subarray(0, n).equals(t.head.subarray(0, n));
      }
    }
    if (!truncated) {
      if (head !== undefined && head.length > t.head.length) this.#setHead(t, head);
      return;
    }
    this.#d.log('INFO', `${this.id}: ${t.path} was truncated at ${t.cursor.readOffset} bytes read; reading it again from its start`);
    this.#orphans.push({ cursor: t.cursor, head: t.head, since: now, path: t.path });
    t.cursor = this.#newCursor(0, Buffer.alloc(0));
    this.#setHead(t, (await this.#readHead(t)) ?? Buffer.alloc(0));
  }

  async #readHead(t: Tracked): Promise<Buffer | undefined> {
    const fh = await this.#handle(t);
    if (fh === undefined) return undefined;
    return readAt(fh, 0, Math.min(HEAD_BYTES, t.size));
  }

  #setHead(t: Tracked, head: Buffer): void {
    t.head = head;
    t.headHash = hashBytes(head);
  }

  #newCursor(start: number, tailBefore: Buffer, acked?: readonly number[]): Cursor {
    return new Cursor(this.#readerOptions, start, this.config.skipHeaderLines, tailBefore, acked);
  }

  /** Decides where a file not tracked yet starts, and starts tracking it (or holds it back). */
  async #admit(l: Listed, now: number): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(l.path, 'r');
    } catch {
      return;
    }
    let keep = false;
    try {
      const s = await fh.stat({ bigint: true });
      if (`${s.dev}:${s.ino}` !== l.key) return; // replaced since listed; next poll sees the new one
      const head = await readAt(fh, 0, Math.min(HEAD_BYTES, l.size));
      const back = this.#forgotten.get(l.key);
      if (back !== undefined) {
        this.#forgotten.delete(l.key);
        const t = back.t;
        if (await sameContent(fh, l.size, head, t)) {
          this.#d.log('DEBUG', `${this.id}: ${l.path} is ${t.path} again; continuing at ${t.cursor.readOffset}`);
          t.moved ||= l.path !== t.path;
          Object.assign(t, { path: l.path, present: true, fh, size: l.size, mtimeMs: l.mtimeMs, lastChangeAt: now, seenAt: now });
          if (head.length > t.head.length) this.#setHead(t, head);
          this.#tracked.set(l.key, t);
          keep = true;
          return;
        }
        // Another file on a reused inode number.
        if (t.cursor.inFlight > 0) this.#retired.add(t.cursor);
      }
      const decision = this.#initialScanDone ? await this.#placeNew(l, fh, head, now) : await this.#placeAtStart(l, fh, head);
      if (decision === 'hold') return;
      this.#held.delete(l.key);
      const t: Tracked = {
        key: l.key,
        dev: l.dev,
        ino: l.ino,
        path: l.path,
        moved: false,
        present: true,
        fh,
        size: l.size,
        mtimeMs: l.mtimeMs,
        head,
        headHash: hashBytes(head),
        cursor: decision,
        lastChangeAt: now,
        seenAt: now,
      };
      this.#tracked.set(l.key, t);
      this.#dormant.delete(l.key);
      keep = true;
      this.#d.onProgress();
      this.#d.log('DEBUG', `${this.id}: tailing ${l.path} from offset ${decision.readOffset}`);
    } finally {
      if (!keep) await fh.close().catch(() => undefined);
    }
  }

  /** At start: resume from the checkpoint, recognise a copy of a checkpointed file, or apply initialPosition. */
  async #placeAtStart(l: Listed, fh: FileHandle, head: Buffer): Promise<Cursor> {
    const mine = this.#dormant.get(l.key);
    if (mine !== undefined) {
      if (mine.headLength <= l.size && hashBytes(head.subarray(0, mine.headLength)) === mine.headHash && mine.offset <= l.size) {
        return this.#newCursor(mine.offset, await readAt(fh, Math.max(0, mine.offset - ANCHOR_BYTES), Math.min(ANCHOR_BYTES, mine.offset)), ackedWithin(mine, l.size));
      }
      this.#d.log('INFO', `${this.id}: ${l.path} is not the file checkpointed under its inode (truncated or replaced); reading it from its start`);
      return this.#newCursor(0, Buffer.alloc(0));
    }
    for (const [key, c] of this.#dormant) {
      if (c.offset === 0 || c.offset > l.size || c.headLength === 0 || c.headLength > l.size) continue;
      if (hashBytes(head.subarray(0, c.headLength)) !== c.headHash) continue;
      const anchor = await readAt(fh, c.offset - c.anchorLength, c.anchorLength);
      if (hashBytes(anchor) !== c.anchorHash) continue;
      // A copy of a checkpointed file (copytruncate while the agent was down), or the same file moved across devices.
      this.#dormant.delete(key);
      this.#d.log('INFO', `${this.id}: ${l.path} holds the content of checkpointed ${c.path}; resuming at ${c.offset}`);
      return this.#newCursor(c.offset, await readAt(fh, Math.max(0, c.offset - ANCHOR_BYTES), Math.min(ANCHOR_BYTES, c.offset)), ackedWithin(c, l.size));
    }
    if (this.#d.checkpoints !== undefined || this.config.initialPosition === 'START_OF_FILE') return this.#newCursor(0, Buffer.alloc(0));
    const end = await lastLineEnd(fh, l.size);
    return this.#newCursor(end, await readAt(fh, Math.max(0, end - ANCHOR_BYTES), Math.min(ANCHOR_BYTES, end)));
  }

  /** After start: a new file is read from its start, unless it is a copy (see the top of this file). */
  async #placeNew(l: Listed, fh: FileHandle, head: Buffer, now: number): Promise<Cursor | 'hold'> {
    const headMatches = (other: Buffer): boolean => {
      const n = Math.min(head.length, other.length);
      return n > 0 && head.subarray(0, n).equals(other.subarray(0, n));
    };
    const anchorMatches = async (c: Cursor): Promise<boolean> => {
      const tail = c.reader.tail;
      if (l.size < c.readOffset) return true; // still being copied: the first bytes have to do
      return (await readAt(fh, c.readOffset - tail.length, tail.length)).equals(tail);
    };
    for (let i = 0; i < this.#orphans.length; i++) {
      const o = this.#orphans[i] as Orphan;
      if (o.cursor.readOffset === 0 || !headMatches(o.head) || !(await anchorMatches(o.cursor))) continue;
      this.#orphans.splice(i, 1);
      this.#d.log('INFO', `${this.id}: ${l.path} is the copy of truncated ${o.path}; continuing at ${o.cursor.readOffset}`);
      return o.cursor;
    }
    const firstSeen = this.#held.get(l.key) ?? now;
    const waiting = now - firstSeen < this.#holdMs;
    // A copy may be seen before its original is truncated, or while it is still empty.
    const candidates = [...this.#tracked.values()].filter((t) => t.present && !t.moved && t.cursor.readOffset > 0 && (head.length === 0 || headMatches(t.head)));
    if (candidates.length > 0 || (head.length === 0 && this.#orphans.length > 0)) {
      if (waiting) {
        this.#held.set(l.key, firstSeen);
        return 'hold';
      }
      for (const t of candidates) {
        if (head.length > 0 && l.size >= t.cursor.readOffset && (await anchorMatches(t.cursor))) {
          // A copy whose original was never truncated (cp): its content up to there is sent already.
          this.#d.log('INFO', `${this.id}: ${l.path} repeats the first ${t.cursor.readOffset} bytes of ${t.path}; reading it from there`);
          return this.#newCursor(t.cursor.readOffset, t.cursor.reader.tail);
        }
      }
    }
    return this.#newCursor(0, Buffer.alloc(0));
  }

  async #handle(t: Tracked): Promise<FileHandle | undefined> {
    if (t.fh !== undefined) return t.fh;
    if (!t.present) return undefined;
    t.fh = (await openIfSame(t.path, t.key)) ?? (await this.#openByInode(t));
    return t.fh;
  }

  /** The tracked file opened wherever it is now in the pattern's directory (renamed since listed), if anywhere. */
  async #openByInode(t: Tracked): Promise<FileHandle | undefined> {
    const dir = this.config.filePattern.directory;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const s = await stat(path, { bigint: true });
        if (`${s.dev}:${s.ino}` !== t.key) continue;
      } catch {
        continue;
      }
      const fh = await openIfSame(path, t.key);
      if (fh !== undefined) return fh;
    }
    return undefined;
  }

  async #read(t: Tracked, now: number): Promise<void> {
    if (!t.present && t.fh !== undefined) {
      // Not listed any more: its size is only known through the open descriptor.
      const size = Number((await t.fh.stat({ bigint: true })).size);
      if (size !== t.size) {
        t.size = size;
        t.lastChangeAt = now;
      }
    }
    const c = t.cursor;
    if (c.readOffset < t.size) {
      const fh = await this.#handle(t);
      while (fh !== undefined && c.readOffset < t.size && !this.#stopped && !this.#backPressured()) {
        const want = Math.min(READ_CHUNK, t.size - c.readOffset);
        const buf = await readAt(fh, c.readOffset, want);
        if (buf.length === 0) break; // shrank meanwhile: the next poll sees it
        this.#m.bytesConsumed += buf.length;
        this.#process(c, c.reader.push(buf));
        if (t.cursor !== c) break;
      }
    }
    if (c.readOffset >= t.size && c.reader.hasPending && now - t.lastChangeAt >= this.config.multiLineFlushMillis) {
      // Quiet for a while: the multi-line record is complete. An unterminated last line is final
      // only once nothing can append to it: the file was rotated away or deleted.
      this.#process(c, c.reader.flush(t.moved || !t.present));
    }
    const finished =
      now - t.seenAt >= this.#goneGraceMs && (t.fh === undefined || (c.readOffset >= t.size && !c.reader.hasPending && now - t.lastChangeAt >= this.#goneGraceMs));
    if (!t.present && finished) {
      this.#tracked.delete(t.key);
      this.#forgotten.set(t.key, { t, at: now });
      await t.fh?.close().catch(() => undefined);
      t.fh = undefined;
      this.#d.log('DEBUG', `${this.id}: done with ${t.path}`);
    } else if (t.present && t.fh !== undefined && c.readOffset >= t.size && !c.reader.hasPending && now - t.lastChangeAt >= IDLE_CLOSE_MS) {
      // Quiet files give their descriptor back; it is reopened (and its inode checked) when they grow.
      const fh = t.fh;
      t.fh = undefined;
      await fh.close().catch(() => undefined);
    }
  }

  #backPressured(): boolean {
    let records = 0;
    let bytes = 0;
    for (const c of this.#cursors()) {
      records += c.inFlight;
      bytes += c.inFlightBytes;
    }
    return records >= this.#maxInFlightRecords || bytes >= MAX_IN_FLIGHT_BYTES;
  }

  #process(c: Cursor, pieces: Piece[]): void {
    let skipped = false;
    for (const p of pieces) {
      // A record acknowledged before a crash, past the checkpointed offset: not sent again.
      if (p.kind === 'skip' || c.alreadyAcked(p)) {
        c.skip(p);
        skipped = true;
        continue;
      }
      this.#m.recordsParsed++;
      let data: Buffer | null;
      try {
        data = this.#convert(p.data);
      } catch (e) {
        this.#d.log('WARN', `${this.id}: record at offset ${p.start} could not be converted and is skipped: ${(e as Error).message}`);
        data = null;
      }
      if (data === null) {
        this.#m.recordsSkipped++;
        c.skip(p);
        skipped = true;
        continue;
      }
      if (this.#hasConverters) this.#m.recordsTransformed++;
      const { partitionKey, record } = this.#finish(data);
      const entry: WindowEntry = c.track(p, record.length);
      this.#d.sink.send(record, partitionKey).then(
        () => {
          this.#m.recordsSent++;
          this.#m.bytesSent += record.length;
          c.ack(entry, record.length);
          this.#d.onProgress();
        },
        () => c.abandon(record.length),
      );
    }
    if (skipped) this.#d.onProgress();
  }

  /** Partition key (KinesisRecord.generatePartitionKey) and truncation to the record limit (AbstractRecord.truncate). */
  #finish(data: Buffer): { partitionKey: string; record: Buffer } {
    const d = this.config.destination;
    let partitionKey = '';
    if (d.kind === 'kinesis') {
      partitionKey =
        d.partitionKeyOption === 'DETERMINISTIC' ? createHash('md5').update(data).digest('hex') : String(Math.random() * 1_000_000);
    }
    const max = this.config.maxRecordBytes - Buffer.byteLength(partitionKey, 'utf8');
    if (data.length <= max) return { partitionKey, record: data };
    const term = this.config.truncatedRecordTerminator;
    this.#d.log('WARN', `${this.id}: a ${data.length}-byte record is cut to ${max} bytes`);
    return { partitionKey, record: Buffer.concat([data.subarray(0, max - term.length), term]) };
  }
}

/**
 * A checkpoint's acknowledged ranges that the file still holds whole. (A file that shrank below
 * them was rewritten: whatever is there now is read and sent.)
 */
function ackedWithin(c: FileCheckpoint, size: number): number[] {
  const a = c.acked ?? [];
  const out: number[] = [];
  for (let i = 0; i + 1 < a.length; i += 2) if ((a[i + 1] as number) <= size) out.push(a[i] as number, a[i + 1] as number);
  return out;
}

/** `path` opened for reading if it is still the file `key` (dev:ino) names. */
async function openIfSame(path: string, key: string): Promise<FileHandle | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      const s = await fh.stat({ bigint: true });
      if (`${s.dev}:${s.ino}` === key) return fh;
    } catch {
      /* closed below */
    }
    await fh.close();
  } catch {
    /* renamed or deleted since listed */
  }
  return undefined;
}

/** Whether an inode seen again holds what was read from it: same first bytes, and the same bytes before the read offset. */
async function sameContent(fh: FileHandle, size: number, head: Buffer, t: Tracked): Promise<boolean> {
  const c = t.cursor;
  if (size < c.readOffset) return false;
  const n = Math.min(head.length, t.head.length);
  if (!head.subarray(0, n).equals(t.head.subarray(0, n))) return false;
  const tail = c.reader.tail;
  return (await readAt(fh, c.readOffset - tail.length, tail.length)).equals(tail);
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** END_OF_FILE: just after the last complete line, so a line being written is sent whole. */
async function lastLineEnd(fh: FileHandle, size: number): Promise<number> {
  const step = 64 * 1024;
  const limit = Math.max(0, size - 1024 * 1024);
  for (let end = size; end > limit; end -= step) {
    const start = Math.max(limit, end - step);
    const buf = await readAt(fh, start, end - start);
    const nl = buf.lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
  }
  // No line end in the last MiB: a file of one partial line starts at 0, a runaway line is skipped.
  return limit === 0 ? 0 : size;
}
