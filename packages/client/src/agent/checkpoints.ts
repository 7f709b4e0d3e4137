// The checkpoint file: per flow, per file, the offset up to which every record has been
// acknowledged by the destination (or deliberately skipped). A file is known by its device and
// inode, and by a hash of its first bytes (so that a recycled inode is not mistaken for the file
// it replaced) and of the bytes just before the offset (so that a copy, as copytruncate makes, can
// be recognised and resumed where the original stopped). The Kinesis Agent keeps the same facts
// in SQLite (SQLiteFileCheckpointStore); a JSON file written atomically needs no native module.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError, AgentErrorCode } from './errors.js';

export interface FileCheckpoint {
  /** Where the file was when last seen (informational: identity is dev + ino + head). */
  readonly path: string;
  /** st_dev and st_ino as decimal strings (they can exceed 2^53). */
  readonly dev: string;
  readonly ino: string;
  /** Bytes hashed from the start of the file (at most HEAD_BYTES). */
  readonly headLength: number;
  readonly headHash: string;
  /** Acknowledged offset: bytes [0, offset) are sent (or skipped) and never read again. */
  readonly offset: number;
  /**
   * Records past `offset` acknowledged out of order (past a record still waiting), as byte ranges
   * [start0, end0, start1, end1, ...], ascending, all beyond `offset`: read again after a restart
   * but not sent. Absent when there are none (and in files older agents wrote).
   */
  readonly acked?: readonly number[];
  /** Bytes hashed just before `offset`. */
  readonly anchorLength: number;
  readonly anchorHash: string;
  /** Epoch milliseconds when the file was last seen; entries older than the TTL are dropped. */
  readonly seenAt: number;
}

export interface CheckpointData {
  readonly flows: Readonly<Record<string, readonly FileCheckpoint[]>>;
}

/** How much of a file's start identifies it. */
export const HEAD_BYTES = 1024;
/** How much of the bytes before an offset is remembered to recognise copies. */
export const ANCHOR_BYTES = 256;

const FORMAT_VERSION = 1;

export function hashBytes(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('base64');
}

export class CheckpointStore {
  readonly path: string;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  /** The stored checkpoints; none when the file does not exist yet. */
  async load(): Promise<CheckpointData> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { flows: {} };
      throw new AgentError(AgentErrorCode.CHECKPOINT, `cannot read the checkpoint file ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      const json = JSON.parse(text) as { version?: unknown; flows?: unknown };
      if (json.version !== FORMAT_VERSION || json.flows === null || typeof json.flows !== 'object') throw new Error('not a version 1 checkpoint file');
      const flows: Record<string, FileCheckpoint[]> = {};
      for (const [id, list] of Object.entries(json.flows as Record<string, unknown>)) {
        if (!Array.isArray(list)) throw new Error(`flow ${id}: not a list`);
        flows[id] = list.map((e) => validEntry(e, id));
      }
      return { flows };
    } catch (e) {
      // Writes are atomic, so this is someone else's file or a hand edit gone wrong: starting over
      // would re-send or skip whole files, so refuse and say where.
      throw new AgentError(AgentErrorCode.CHECKPOINT, `${this.path} is not a usable checkpoint file (${(e as Error).message}); move it away to start over`, { cause: e });
    }
  }

  /**
   * Replaces the file's content atomically: a temporary file in the same directory, fsync, rename,
   * fsync of the directory. Calls are serialised; each one writes the data it was given.
   */
  save(data: CheckpointData): Promise<void> {
    const text = `${JSON.stringify({ version: FORMAT_VERSION, writtenAt: new Date().toISOString(), flows: data.flows })}\n`;
    const next = this.#writing.then(() => this.#write(text));
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async #write(text: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    // The rename is durable only once the directory is; not every platform lets a directory be opened.
    try {
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      /* best effort */
    }
  }
}

function validEntry(e: unknown, flow: string): FileCheckpoint {
  const o = e as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string') throw new Error(`flow ${flow}: ${k} is not a string`);
    return o[k] as string;
  };
  const num = (k: string): number => {
    if (typeof o[k] !== 'number' || !Number.isSafeInteger(o[k]) || (o[k] as number) < 0) throw new Error(`flow ${flow}: ${k} is not a non-negative integer`);
    return o[k] as number;
  };
  const offset = num('offset');
  let acked: number[] | undefined;
  if (o['acked'] !== undefined) {
    const a = o['acked'];
    if (!Array.isArray(a) || a.length % 2 !== 0) throw new Error(`flow ${flow}: acked is not a list of start and end offsets`);
    let last = offset - 1;
    for (const x of a) {
      // Ranges are not empty, ascend, do not touch each other, and start at or past the offset.
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x <= last) throw new Error(`flow ${flow}: acked is not a list of ascending offsets from ${offset}`);
      last = x;
    }
    acked = a as number[];
  }
  return {
    path: str('path'),
    dev: str('dev'),
    ino: str('ino'),
    headLength: num('headLength'),
    headHash: str('headHash'),
    offset,
    ...(acked !== undefined && acked.length > 0 ? { acked } : {}),
    anchorLength: num('anchorLength'),
    anchorHash: str('anchorHash'),
    seenAt: num('seenAt'),
  };
}
