// A cursor is the reading state of one file's content: where reading has got to, and which of the
// records read so far the destination has acknowledged. Records complete out of order (different
// shards, retries); the acknowledged offset is the end of the longest prefix of pieces that are all
// done, so a checkpoint never covers a record that might still be lost.
import { type Piece, RecordReader, type RecordReaderOptions, Tail } from './record-reader.js';

export interface WindowEntry {
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
  /** Records handed to the sink and not yet acknowledged. */
  inFlight = 0;
  inFlightBytes = 0;
  #onDrained: (() => void)[] = [];

  constructor(o: RecordReaderOptions, start: number, headerLines: number, tailBefore: Buffer) {
    this.reader = new RecordReader(o, start, headerLines, tailBefore);
    this.#ackedOffset = start;
    this.#ackedTail = new Tail(tailBefore);
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

  /** A piece that needs nothing from the destination (a skipped line, a filtered record). */
  skip(piece: Piece): void {
    this.#window.push({ end: piece.end, tail: piece.tail, done: true });
    this.#advance();
  }

  /** A record handed to the sink; call `ack` with the entry once it is stored. */
  track(piece: Piece, bytes: number): WindowEntry {
    const e: WindowEntry = { end: piece.end, tail: piece.tail, done: false };
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
