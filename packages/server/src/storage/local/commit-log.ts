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
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync, constants } from 'node:fs';
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
 * The whole records at the start of one journal file, in order: each round the one after the one
 * before. Reading stops at the first record that is torn, fails a CRC, or does not follow (what is
 * left of an older pass over the file).
 */
export function readJournal(buf: Buffer): LoggedRound[] {
  const out: LoggedRound[] = [];
  let at = 0;
  while (at + HEAD_FIXED_BYTES <= buf.length) {
    if (buf.readUInt32LE(at) !== JOURNAL_MAGIC) break;
    const headBytes = buf.readUInt32LE(at + 8);
    if (headBytes < HEAD_FIXED_BYTES || headBytes > buf.length - at) break;
    if (crcOf(buf, at + 8, at + headBytes) !== buf.readUInt32LE(at + 4)) break;
    const round = buf.readUInt32LE(at + 16) + buf.readUInt32LE(at + 20) * 2 ** 32;
    const count = buf.readUInt32LE(at + 24);
    const payloadBytes = buf.readUInt32LE(at + 28);
    const payload = at + headBytes;
    if (payloadBytes > buf.length - payload) break;
    if (out.length > 0 && round !== out[out.length - 1]!.round + 1) break;
    if (crc32(buf.subarray(payload, payload + payloadBytes)) !== buf.readUInt32LE(at + 12)) break;
    const parts: { path: string; at: number; data: Buffer }[] = [];
    let d = at + HEAD_FIXED_BYTES;
    let p = payload;
    let sound = true;
    for (let i = 0; i < count; i++) {
      if (d + PART_FIXED_BYTES > payload) {
        sound = false;
        break;
      }
      const fileAt = buf.readUIntLE(d, 6);
      const length = buf.readUInt32LE(d + 6);
      const pathBytes = buf.readUInt16LE(d + 10);
      const path = buf.toString('utf8', d + PART_FIXED_BYTES, d + PART_FIXED_BYTES + pathBytes);
      d += PART_FIXED_BYTES + pathBytes;
      if (d > payload || !PART_PATH.test(path) || p + length > payload + payloadBytes) {
        sound = false;
        break;
      }
      parts.push({ path, at: fileAt, data: buf.subarray(p, p + length) });
      p += length;
    }
    // A header that passed its CRC but does not add up was not written by us: stop there too.
    if (!sound || d !== payload || p !== payload + payloadBytes) break;
    out.push({ round, parts });
    at = payload + payloadBytes;
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
  for (const d of dirs) {
    const fd = openSync(d, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Reads both journals under `logDir` (missing ones are empty). */
export function readJournals(logDir: string): LoggedRound[][] {
  return JOURNAL_FILES.map((f) => {
    const path = join(logDir, f);
    return existsSync(path) ? readJournal(readFileSync(path)) : [];
  });
}
