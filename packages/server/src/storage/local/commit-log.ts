/**
 * The commit log of the local engine (log-store.ts, "Group commit", describes how it is used): two
 * files, `journal-0` and `journal-1` under the log directory, written alternately from their start.
 * A group-commit round is durable once its record here is: one O_DSYNC write per round, whatever
 * the number of shards it touched, while the shards' segment files are written without a sync and
 * synced together at checkpoints.
 *
 * Record (little-endian):
 *   magic u32 "EDJ1" | crc32 of the header from byte 8 on u32 | header bytes u32 | crc32 of the payload u32
 *   | round u64 | parts u32 | payload bytes u32
 *   | per part: file offset u48 | length u32 | path length u16 | path (UTF-8, relative to the log directory)
 *   | payload: every part's bytes, in part order
 * Each part is what the round wrote into one segment file at that offset, byte for byte, so replaying
 * a record is writing its parts back where they were. The payload's CRC is what tells a whole record
 * from one a crash tore or one left from an older pass over the file: neither is replayed.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { crcOf } from './frames.js';

export const JOURNAL_FILES = ['journal-0', 'journal-1'] as const;
const JOURNAL_MAGIC = 0x314a_4445; // "EDJ1"
const HEAD_FIXED_BYTES = 32;
const PART_FIXED_BYTES = 12;
/** A segment path as the store names it: stream id / shard index / first position .seg. */
const PART_PATH = /^\d+\/\d+\/\d{20}\.seg$/;

/** One segment write of a round. */
export interface JournalPart {
  /** The segment file, relative to the log directory. */
  readonly path: string;
  /** Where in it the bytes go. */
  readonly at: number;
  readonly bufs: readonly Buffer[];
}

/** The header of a round's record; the payload (every part's buffers, in order) follows it. */
export function journalHead(round: number, parts: readonly JournalPart[]): Buffer {
  let headBytes = HEAD_FIXED_BYTES;
  let payloadBytes = 0;
  let payloadCrc = 0;
  for (const p of parts) {
    headBytes += PART_FIXED_BYTES + Buffer.byteLength(p.path);
    for (const b of p.bufs) {
      payloadBytes += b.length;
      payloadCrc = crc32(b, payloadCrc);
    }
  }
  const h = Buffer.allocUnsafe(headBytes);
  h.writeUInt32LE(JOURNAL_MAGIC, 0);
  h.writeUInt32LE(headBytes, 8);
  h.writeUInt32LE(payloadCrc, 12);
  h.writeUInt32LE(round % 2 ** 32, 16);
  h.writeUInt32LE(Math.floor(round / 2 ** 32), 20);
  h.writeUInt32LE(parts.length, 24);
  h.writeUInt32LE(payloadBytes, 28);
  let at = HEAD_FIXED_BYTES;
  for (const p of parts) {
    let length = 0;
    for (const b of p.bufs) length += b.length;
    h.writeUIntLE(p.at, at, 6);
    h.writeUInt32LE(length, at + 6);
    const n = h.write(p.path, at + PART_FIXED_BYTES, 'utf8');
    h.writeUInt16LE(n, at + 10);
    at += PART_FIXED_BYTES + n;
  }
  h.writeUInt32LE(crcOf(h, 8, headBytes), 4);
  return h;
}

/** A round as its record holds it. */
export interface LoggedRound {
  readonly round: number;
  readonly parts: readonly { readonly path: string; readonly at: number; readonly data: Buffer }[];
}

/**
 * The whole records at the start of one journal file (its bytes, or an open descriptor and its
 * size), in order, each round the one after the one before; only those of rounds after `after`
 * are returned, and only theirs are read beyond the header (a journal is mostly rounds a
 * checkpoint already covers: open skips them). Reading stops at the first record that is torn,
 * fails a CRC, or does not follow (what is left of an older pass over the file).
 */
export function readJournal(file: Buffer | { fd: number; size: number }, after = -1): LoggedRound[] {
  const size = Buffer.isBuffer(file) ? file.length : file.size;
  const read = Buffer.isBuffer(file)
    ? (at: number, length: number): Buffer => file.subarray(at, at + length)
    : (at: number, length: number): Buffer => {
        const b = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
          const n = readSync(file.fd, b, done, length - done, at + done);
          if (n <= 0) throw new Error('commit log: short read');
          done += n;
        }
        return b;
      };
  const out: LoggedRound[] = [];
  let previous: number | undefined;
  let at = 0;
  while (at + HEAD_FIXED_BYTES <= size) {
    const fixed = read(at, HEAD_FIXED_BYTES);
    if (fixed.readUInt32LE(0) !== JOURNAL_MAGIC) break;
    const headBytes = fixed.readUInt32LE(8);
    if (headBytes < HEAD_FIXED_BYTES || headBytes > size - at) break;
    const head = headBytes === HEAD_FIXED_BYTES ? fixed : read(at, headBytes);
    if (crcOf(head, 8, headBytes) !== head.readUInt32LE(4)) break;
    const round = head.readUInt32LE(16) + head.readUInt32LE(20) * 2 ** 32;
    const count = head.readUInt32LE(24);
    const payloadBytes = head.readUInt32LE(28);
    if (payloadBytes > size - at - headBytes) break;
    if (previous !== undefined && round !== previous + 1) break;
    const parts: { path: string; at: number; offset: number; length: number }[] = [];
    let d = HEAD_FIXED_BYTES;
    let p = 0;
    for (let i = 0; i < count && d + PART_FIXED_BYTES <= headBytes; i++) {
      const length = head.readUInt32LE(d + 6);
      const pathBytes = head.readUInt16LE(d + 10);
      const path = head.toString('utf8', d + PART_FIXED_BYTES, Math.min(headBytes, d + PART_FIXED_BYTES + pathBytes));
      parts.push({ path, at: head.readUIntLE(d, 6), offset: p, length });
      d += PART_FIXED_BYTES + pathBytes;
      p += length;
    }
    // A header that passed its CRC but does not add up was not written by us: stop there too.
    if (parts.length !== count || d !== headBytes || p !== payloadBytes || !parts.every((x) => PART_PATH.test(x.path))) break;
    if (round > after) {
      const payload = read(at + headBytes, payloadBytes);
      if (crc32(payload) !== head.readUInt32LE(12)) break;
      out.push({ round, parts: parts.map((x) => ({ path: x.path, at: x.at, data: payload.subarray(x.offset, x.offset + x.length) })) });
    }
    previous = round;
    at += headBytes + payloadBytes;
  }
  return out;
}

/**
 * The rounds after `checkpoint` that the journals hold, in order, from checkpoint + 1 with no gap
 * (each journal holds one run of consecutive rounds; the two runs follow one another). Throws when
 * rounds after the checkpoint are there but the next one is not: the log has lost a round.
 */
export function roundsAfter(journals: readonly LoggedRound[][], checkpoint: number): LoggedRound[] {
  const out: LoggedRound[] = [];
  let next = checkpoint + 1;
  for (;;) {
    let found: LoggedRound[] | undefined;
    for (const j of journals) {
      if (j.length > 0 && j[0]!.round <= next && next <= j[j.length - 1]!.round) found = j;
    }
    if (found === undefined) break;
    for (const r of found) if (r.round >= next) out.push(r);
    next = out[out.length - 1]!.round + 1;
  }
  const later = journals.flat().find((r) => r.round > next);
  if (later !== undefined) throw new Error(`commit log: round ${later.round} is there but round ${next} is not (checkpoint ${checkpoint})`);
  return out;
}

/**
 * Writes the rounds' parts back into their segment files (creating files and directories a crash
 * lost) and makes them durable: every file written is fsync'd, and so is every directory in which
 * an entry was made. Writing a part again over its own bytes changes nothing, so replaying twice
 * (a crash during recovery) is harmless.
 */
export function replayRounds(logDir: string, rounds: readonly LoggedRound[]): void {
  const files = new Map<string, number>();
  const dirs = new Set<string>();
  try {
    for (const r of rounds) {
      for (const part of r.parts) {
        const path = join(logDir, part.path);
        let fd = files.get(path);
        if (fd === undefined) {
          const dir = dirname(path);
          const made = mkdirSync(dir, { recursive: true });
          if (made !== undefined) {
            // Every directory from `made` down was created: sync the parent of each.
            for (let d = dir; d.length >= made.length; d = dirname(d)) dirs.add(dirname(d));
          }
          if (!existsSync(path)) dirs.add(dir);
          fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
          files.set(path, fd);
        }
        let done = 0;
        while (done < part.data.length) {
          const n = writeSync(fd, part.data, done, part.data.length - done, part.at + done);
          if (n <= 0) throw new Error(`commit log replay: no progress writing ${path}`);
          done += n;
        }
      }
    }
    for (const fd of files.values()) fsyncSync(fd);
  } finally {
    for (const fd of files.values()) closeSync(fd);
  }
  for (const d of dirs) fsyncPathSync(d);
}

/** fsync of a file or a directory, by path. */
export function fsyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The rounds after `after` in both journals under `logDir` (a missing journal holds none). */
export function readJournals(logDir: string, after: number): LoggedRound[][] {
  return JOURNAL_FILES.map((f) => {
    const path = join(logDir, f);
    if (!existsSync(path)) return [];
    const fd = openSync(path, 'r');
    try {
      return readJournal({ fd, size: fstatSync(fd).size }, after);
    } finally {
      closeSync(fd);
    }
  });
}
