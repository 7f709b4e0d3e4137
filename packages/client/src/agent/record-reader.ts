// Cuts a file's bytes into records, as the agent's SingleLineSplitter and RegexSplitter do: one
// record per line ("\n" included), or with multiLineStartPattern a record per line that matches
// the pattern plus the lines up to the next one. Every byte consumed ends up in exactly one piece
// (a record, or a skipped header or footer line), so pieces tile the file and the acknowledged
// offset can always advance to the end of the last piece whose predecessors are all done.
import { ANCHOR_BYTES } from './checkpoints.js';

export interface RecordReaderOptions {
  readonly multiLineStartPattern?: RegExp | undefined;
  readonly fileFooterPattern?: RegExp | undefined;
  /**
   * Largest record kept (the agent's parser buffer): the rest of a longer line is read and
   * dropped, and the record is cut later with truncatedRecordTerminator.
   */
  readonly maxRecordBytes: number;
}

/**
 * The last ANCHOR_BYTES bytes before a piece's end. Only checkpoints and copy detection look at
 * them, so they are cut out of the chunk they came from when asked for, not for every record.
 */
export class Tail {
  #before: Buffer;
  #chunk: Buffer | undefined;
  #rel: number;
  constructor(before: Buffer, chunk?: Buffer, rel = 0) {
    this.#before = before;
    this.#chunk = chunk;
    this.#rel = rel;
  }
  get bytes(): Buffer {
    const chunk = this.#chunk;
    if (chunk === undefined) return this.#before;
    const rel = this.#rel;
    const b =
      rel >= ANCHOR_BYTES
        ? Buffer.from(chunk.subarray(rel - ANCHOR_BYTES, rel))
        : Buffer.concat([this.#before.subarray(Math.max(0, this.#before.length - (ANCHOR_BYTES - rel))), chunk.subarray(0, rel)]);
    this.#before = b;
    this.#chunk = undefined;
    return b;
  }
}

export const NO_TAIL = new Tail(Buffer.alloc(0));

export type Piece =
  | { readonly kind: 'record'; readonly start: number; readonly end: number; readonly data: Buffer; readonly tail: Tail }
  | { readonly kind: 'skip'; readonly start: number; readonly end: number; readonly tail: Tail; readonly reason: 'header' | 'footer' };

interface Pending {
  start: number;
  end: number;
  parts: Buffer[];
  length: number;
  tail: Tail;
}

export class RecordReader {
  readonly #o: RecordReaderOptions;
  /** File offset of the next byte to consume. */
  #offset: number;
  #headerLeft: number;
  #footerReached = false;
  /** The last ANCHOR_BYTES bytes before #offset. */
  #rolling: Buffer;
  // The line being read.
  #lineStart: number;
  #lineParts: Buffer[] = [];
  #lineLength = 0;
  // The multi-line record being gathered.
  #pending: Pending | undefined;

  constructor(o: RecordReaderOptions, startOffset: number, headerLines: number, tailBefore: Buffer) {
    this.#o = o;
    this.#offset = startOffset;
    this.#lineStart = startOffset;
    this.#headerLeft = startOffset === 0 ? headerLines : 0;
    this.#rolling = tailBefore.subarray(Math.max(0, tailBefore.length - ANCHOR_BYTES));
  }

  get offset(): number {
    return this.#offset;
  }

  /** The last bytes consumed (for copy detection). */
  get tail(): Buffer {
    return this.#rolling;
  }

  /** Bytes consumed that belong to no piece yet. */
  get pendingBytes(): number {
    return this.#offset - (this.#pending?.start ?? this.#lineStart);
  }

  /** Consumes the next bytes of the file; returns the pieces they complete. */
  push(chunk: Buffer): Piece[] {
    const out: Piece[] = [];
    const chunkStart = this.#offset;
    const before = this.#rolling;
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      const segEnd = nl < 0 ? chunk.length : nl + 1;
      this.#appendToLine(chunk.subarray(pos, segEnd));
      pos = segEnd;
      if (nl >= 0) this.#completeLine(chunkStart + segEnd, new Tail(before, chunk, segEnd), out);
    }
    this.#offset = chunkStart + chunk.length;
    this.#rolling = new Tail(before, chunk, chunk.length).bytes;
    return out;
  }

  /** True when bytes are held back: an unterminated line or a multi-line record that may go on. */
  get hasPending(): boolean {
    return this.#pending !== undefined || this.#lineLength > 0;
  }

  /**
   * Ends what is held back: the multi-line record, and with `partialLine` also an unterminated last
   * line (only once the file can no longer grow that line: it was rotated away or deleted).
   */
  flush(partialLine: boolean): Piece[] {
    const out: Piece[] = [];
    if (partialLine && this.#lineLength > 0) this.#completeLine(this.#offset, new Tail(this.#rolling), out);
    this.#emitPending(out);
    return out;
  }

  #appendToLine(seg: Buffer): void {
    const room = this.#o.maxRecordBytes - this.#lineLength;
    if (room > 0) this.#lineParts.push(seg.length <= room ? seg : seg.subarray(0, room));
    // Bytes past the limit are consumed but dropped (the agent's "runaway record").
    this.#lineLength += seg.length;
  }

  #completeLine(end: number, tail: Tail, out: Piece[]): void {
    const start = this.#lineStart;
    // A view of the chunk, not a copy: the chunk stays alive until its records are acknowledged.
    const bytes = this.#lineParts.length === 1 ? (this.#lineParts[0] as Buffer) : Buffer.concat(this.#lineParts);
    this.#lineParts = [];
    this.#lineLength = 0;
    this.#lineStart = end;
    if (this.#headerLeft > 0) {
      this.#headerLeft--;
      out.push({ kind: 'skip', start, end, tail, reason: 'header' });
      return;
    }
    if (this.#footerReached) {
      out.push({ kind: 'skip', start, end, tail, reason: 'footer' });
      return;
    }
    if (this.#o.fileFooterPattern !== undefined && this.#o.fileFooterPattern.test(bytes.toString('utf8'))) {
      // fileFooterPattern: the agent stops processing the file at this line.
      this.#footerReached = true;
      this.#emitPending(out);
      out.push({ kind: 'skip', start, end, tail, reason: 'footer' });
      return;
    }
    const startRe = this.#o.multiLineStartPattern;
    if (startRe === undefined) {
      out.push({ kind: 'record', start, end, data: bytes, tail });
      return;
    }
    const p = this.#pending;
    if (p !== undefined && !startRe.test(bytes.toString('utf8'))) {
      const room = this.#o.maxRecordBytes - p.length;
      if (room > 0) p.parts.push(bytes.length <= room ? bytes : bytes.subarray(0, room));
      p.length += bytes.length;
      p.end = end;
      p.tail = tail;
      return;
    }
    // A line that starts a record, or the file's first line (which the agent always treats as one).
    this.#emitPending(out);
    this.#pending = { start, end, parts: [bytes], length: bytes.length, tail };
  }

  #emitPending(out: Piece[]): void {
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    const data = Buffer.concat(p.parts);
    out.push({ kind: 'record', start: p.start, end: p.end, data: data.length > this.#o.maxRecordBytes ? data.subarray(0, this.#o.maxRecordBytes) : data, tail: p.tail });
  }
}
