// A cursor is the reading state of one file's content: where reading has got to, and which of the
// records read so far the destination has acknowledged. Records complete out of order (different
// shards, retries); the acknowledged offset is the end of the longest prefix of pieces that are all
// done, so a checkpoint never covers a record that might still be lost. Pieces done past the first
// one still waiting (a gap) are checkpointed too, as byte ranges: after a crash they are read but
// not sent again (`alreadyAcked`), so only acknowledgements the last checkpoint write missed repeat.
import { type Piece, RecordReader, type RecordReaderOptions, Tail } from './record-reader.js';

export interface WindowEntry {
  readonly start: number;
  readonly end: number;
  readonly tail: Tail;
  done: boolean;
}

export class Cursor {
  readonly reader: RecordReader;
  #window: WindowEntry[] = [];
  #head = 0;
  #ackedOffset: number;
  #ackedTail: Tail;
  /** Ranges past the start acknowledged in an earlier run: [start0, end0, start1, end1, ...], ascending. */
  readonly #restored: readonly number[];
  /** Index in #restored of the first range that may still hold pieces to come. */
  #restoredAt = 0;
  /** Records handed to the sink and not yet acknowledged. */
  inFlight = 0;
  inFlightBytes = 0;
  #onDrained: (() => void)[] = [];

  /** `acked`: ranges past `start` a checkpoint says are done (FileCheckpoint.acked). */
  constructor(o: RecordReaderOptions, start: number, headerLines: number, tailBefore: Buffer, acked: readonly number[] = []) {
    this.reader = new RecordReader(o, start, headerLines, tailBefore);
    this.#ackedOffset = start;
    this.#ackedTail = new Tail(tailBefore);
    this.#restored = acked;
  }

  get readOffset(): number {
    return this.reader.offset;
  }

  get ackedOffset(): number {
    return this.#ackedOffset;
  }

  /** The bytes just before ackedOffset (at most ANCHOR_BYTES). */
  get ackedTail(): Buffer {
    return this.#ackedTail.bytes;
  }

  /**
   * Whether a checkpoint of an earlier run says this piece was acknowledged (it lies wholly inside
   * an acknowledged range); such a piece is skipped, not sent. Pieces come in file order.
   */
  alreadyAcked(piece: Piece): boolean {
    const r = this.#restored;
    while (this.#restoredAt < r.length && (r[this.#restoredAt + 1] as number) <= piece.start) this.#restoredAt += 2;
    return this.#restoredAt < r.length && (r[this.#restoredAt] as number) <= piece.start && piece.end <= (r[this.#restoredAt + 1] as number);
  }

  /**
   * What is done past ackedOffset, as ranges [start0, end0, start1, end1, ...] in ascending order:
   * runs of acknowledged or skipped pieces after the first one still waiting, and the parts of the
   * restored ranges not reached yet.
   */
  ackedRanges(): number[] {
    const out: number[] = [];
    const add = (start: number, end: number): void => {
      if (end <= start) return;
      if (out.length > 0 && (out[out.length - 1] as number) >= start) out[out.length - 1] = Math.max(out[out.length - 1] as number, end);
      else out.push(start, end);
    };
    const w = this.#window;
    let runStart = -1;
    let runEnd = -1;
    for (let i = this.#head; i < w.length; i++) {
      const e = w[i] as WindowEntry;
      if (!e.done) {
        if (runStart >= 0) add(runStart, runEnd);
        runStart = -1;
        continue;
      }
      if (runStart < 0) runStart = e.start;
      runEnd = e.end;
    }
    if (runStart >= 0) add(runStart, runEnd);
    // Restored ranges beyond the last piece made (bytes read but in no piece yet included).
    const lastEnd = w.length > this.#head ? (w[w.length - 1] as WindowEntry).end : this.#ackedOffset;
    const r = this.#restored;
    for (let i = this.#restoredAt; i < r.length; i += 2) {
      const end = r[i + 1] as number;
      if (end > lastEnd) add(Math.max(r[i] as number, lastEnd), end);
    }
    return out;
  }

  /** A piece that needs nothing from the destination (a skipped line, a filtered record). */
  skip(piece: Piece): void {
    this.#window.push({ start: piece.start, end: piece.end, tail: piece.tail, done: true });
    this.#advance();
  }

  /** A record handed to the sink; call `ack` with the entry once it is stored. */
  track(piece: Piece, bytes: number): WindowEntry {
    const e: WindowEntry = { start: piece.start, end: piece.end, tail: piece.tail, done: false };
    this.#window.push(e);
    this.inFlight++;
    this.inFlightBytes += bytes;
    return e;
  }

  ack(e: WindowEntry, bytes: number): void {
    e.done = true;
    this.inFlight--;
    this.inFlightBytes -= bytes;
    this.#advance();
    if (this.inFlight === 0) this.#drained();
  }

  /** The sink was closed before the record was stored: it stays unacknowledged. */
  abandon(bytes: number): void {
    this.inFlight--;
    this.inFlightBytes -= bytes;
    if (this.inFlight === 0) this.#drained();
  }

  whenDrained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#onDrained.push(resolve));
  }

  #drained(): void {
    const w = this.#onDrained;
    this.#onDrained = [];
    for (const f of w) f();
  }

  #advance(): void {
    while (this.#head < this.#window.length) {
      const e = this.#window[this.#head] as WindowEntry;
      if (!e.done) break;
      this.#ackedOffset = e.end;
      this.#ackedTail = e.tail;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#window.length) {
      this.#window = this.#window.slice(this.#head);
      this.#head = 0;
    }
  }
}
