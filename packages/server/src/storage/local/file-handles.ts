/**
 * Open segment files, shared by the writer and readers and capped in number: a store with
 * thousands of shards must not hold thousands of descriptors. Handles are reference-counted while
 * in use and the least recently used idle ones are closed when the cap is passed.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const { O_RDWR, O_CREAT, O_EXCL } = constants;
/** Read-write. Writes are made durable by the commit log and checkpoints (log-store.ts). */
const OPEN = O_RDWR;
/** The same, for a file that must not exist yet. */
export const CREATE = OPEN | O_CREAT | O_EXCL;

interface Entry {
  readonly handle: Promise<FileHandle>;
  refs: number;
  /** Removed from the map (evicted or forgotten): close once the last user releases it. */
  dropped: boolean;
}

/** A handle in use; `release()` exactly once when done. */
export interface Lease {
  readonly handle: FileHandle;
  release(): void;
}

export class FileHandles {
  readonly #max: number;
  /** Map order is recency: an entry is re-inserted on every use. */
  readonly #entries = new Map<string, Entry>();

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * A handle on `path`, opened read-write (OPEN), or with `createFlags`
   * when given (the writer creates segments with CREATE).
   */
  async acquire(path: string, createFlags?: number): Promise<Lease> {
    let e = this.#entries.get(path);
    if (e === undefined) {
      const created: Entry = { handle: open(path, createFlags ?? OPEN), refs: 0, dropped: false };
      // A failed open must not stay cached.
      created.handle.catch(() => {
        if (this.#entries.get(path) === created) this.#entries.delete(path);
      });
      e = created;
    } else {
      this.#entries.delete(path);
    }
    const entry = e;
    entry.refs++;
    this.#entries.set(path, entry);
    this.#evict();
    let handle: FileHandle;
    try {
      handle = await entry.handle;
    } catch (err) {
      entry.refs--;
      throw err;
    }
    let released = false;
    return {
      handle,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.dropped) closeIfIdle(entry);
        else this.#evict();
      },
    };
  }

  /** Forgets (and closes once idle) every handle whose path starts with `prefix`: the files are being deleted. */
  forget(prefix: string): void {
    for (const [path, e] of this.#entries) {
      if (!path.startsWith(prefix)) continue;
      this.#entries.delete(path);
      e.dropped = true;
      closeIfIdle(e);
    }
  }

  #evict(): void {
    if (this.#entries.size <= this.#max) return;
    for (const [path, e] of this.#entries) {
      if (this.#entries.size <= this.#max) return;
      if (e.refs > 0) continue;
      this.#entries.delete(path);
      e.dropped = true;
      closeIfIdle(e);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(all.map((e) => e.handle.then((h) => h.close()).catch(() => undefined)));
  }
}

function closeIfIdle(e: Entry): void {
  if (e.refs > 0) return;
  e.handle.then((h) => h.close()).catch(() => undefined);
}
