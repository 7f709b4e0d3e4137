/**
 * The embedded durable engine (DESIGN.md "Storage", "Choices worth knowing"):
 *
 * `log`: append-only segment files per shard under `<dataDir>/log/`, written and read with plain
 *   file I/O, group-committed through a commit log (log-store.ts describes the layout, the durability
 *   argument and recovery). It replaced an LMDB database of one entry per record: LMDB's writer
 *   touches every leaf page it appends to through its map, so the process's file-backed RSS grew
 *   with the stored data (1.95 GB RSS at 10 M × 100-byte records, against a 200 MB target);
 *   with pread/pwrite the data lives in the kernel's page cache, outside the process.
 *
 * `meta`: MetaStore records in LMDB (`<dataDir>/lmdb`, database `meta`): small data, where LMDB's
 *   transactions give compare-and-set for free. key = the record key in UTF-8 (byte order = `list`
 *   order), value = version u48 BE | JSON of the value.
 *
 * LMDB durability. lmdb-js defaults to `overlappingSync: true` on Linux, and in that mode a write's
 * promise resolves when the transaction is *committed* (visible), before it is flushed
 * (node_modules/lmdb/README.md "overlappingSync"). We turn it off: then `mdb_txn_commit`
 * fdatasync()s the data file and writes the meta page through the O_DSYNC descriptor before the
 * promise resolves (mdb.c, mdb_txn_commit / mdb_env_write_meta; src/writer.cpp). We never set
 * `noSync`, `noMetaSync` or `useWritemap`. `mapSize` is 1 TiB of address space, not of disk, so
 * lmdb-js never remaps (its growth leaves every old mapping behind).
 *
 * A data dir written by the earlier all-LMDB engine keeps its meta; its `log` database is ignored
 * (nothing had been released with it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { VersionConflictError, type MetaStore, type Storage, type Versioned } from '../types.js';
import { openSegmentLog } from './log-store.js';
import { checkExpected, metaKeyBytes } from '../meta-checks.js';

export interface LocalStorageOptions {
  /** Directory for the data: segment files go to `<dataDir>/log/`, LMDB files to `<dataDir>/lmdb/`. Created if missing. */
  readonly dataDir: string;
}

export async function openLocalStorage(options: LocalStorageOptions): Promise<Storage> {
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new TypeError('openLocalStorage: dataDir must be a non-empty path');
  }
  const path = join(options.dataDir, 'lmdb');
  mkdirSync(path, { recursive: true });
  // `noReadAhead` is a real lmdb-js option (README "noReadAhead", MDB_NORDAHEAD) missing from its typings.
  const lmdbOptions: Parameters<typeof open>[0] & { readonly noReadAhead: boolean } = {
    path,
    // The path is a directory even when its name has a dot in it (lmdb-js guesses from the extension).
    noSubdir: false,
    overlappingSync: false,
    noReadAhead: true,
    mapSize: 2 ** 40,
    maxDbs: 4,
  };
  const root: RootDatabase = open(lmdbOptions);
  let log;
  try {
    log = await openSegmentLog(join(options.dataDir, 'log'));
  } catch (e) {
    await root.close();
    throw e;
  }
  const metaDb = root.openDB<Uint8Array, Uint8Array>({ name: 'meta', encoding: 'binary', keyEncoding: 'binary' });
  const segmentLog = log;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      try {
        await segmentLog.close();
      } finally {
        await root.close();
      }
    })());
  return {
    log: segmentLog,
    meta: new LmdbMetaStore(metaDb, close),
    close,
  };
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// ------------------------------------------------------------------------------------ meta store

const VERSION_BYTES = 6;
const metaKey = metaKeyBytes;

function versionOf(stored: Uint8Array | undefined): number {
  return stored === undefined ? 0 : asBuffer(stored).readUIntBE(0, VERSION_BYTES);
}

function decodeMeta<T>(key: string, stored: Uint8Array): Versioned<T> {
  const b = asBuffer(stored);
  return { key, version: b.readUIntBE(0, VERSION_BYTES), value: JSON.parse(b.toString('utf8', VERSION_BYTES)) as T };
}

class LmdbMetaStore implements MetaStore {
  readonly #db: Database<Uint8Array, Uint8Array>;
  readonly #close: () => Promise<void>;

  constructor(db: Database<Uint8Array, Uint8Array>, close: () => Promise<void>) {
    this.#db = db;
    this.#close = close;
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const stored = this.#db.get(metaKey(key));
    return stored === undefined ? undefined : decodeMeta<T>(key, stored);
  }

  async list<T>(prefix: string): Promise<Versioned<T>[]> {
    const p = Buffer.from(prefix, 'utf8');
    // 0xff never occurs in UTF-8, so prefix + 0xff is above every key that starts with prefix.
    const range = p.length === 0 ? this.#db.getRange({}) : this.#db.getRange({ start: p, end: Buffer.concat([p, Buffer.from([0xff])]) });
    const out: Versioned<T>[] = [];
    for (const { key, value } of range) out.push(decodeMeta<T>(asBuffer(key).toString('utf8'), value));
    return out;
  }

  async put<T>(key: string, value: T, expectedVersion?: number): Promise<number> {
    const k = metaKey(key);
    checkExpected(expectedVersion);
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`meta value for ${key} is not JSON-serialisable`);
    const body = Buffer.from(json, 'utf8');
    const db = this.#db;
    // Read, compare and write inside one write transaction: no other write can come in between.
    const next = await db.transaction(() => {
      const current = versionOf(db.get(k));
      if (expectedVersion !== undefined && current !== expectedVersion) return -1;
      const v = current + 1;
      const stored = Buffer.allocUnsafe(VERSION_BYTES + body.length);
      stored.writeUIntBE(v, 0, VERSION_BYTES);
      body.copy(stored, VERSION_BYTES);
      db.putSync(k, stored);
      return v;
    });
    if (next < 0) throw new VersionConflictError(key);
    return next;
  }

  /** With expectedVersion, the record must be at that version (0 = absent, which deletes nothing). */
  async delete(key: string, expectedVersion?: number): Promise<void> {
    const k = metaKey(key);
    checkExpected(expectedVersion);
    const db = this.#db;
    const ok = await db.transaction(() => {
      const stored = db.get(k);
      if (expectedVersion !== undefined && versionOf(stored) !== expectedVersion) return false;
      if (stored !== undefined) db.removeSync(k);
      return true;
    });
    if (!ok) throw new VersionConflictError(key);
  }

  close(): Promise<void> {
    return this.#close();
  }
}
