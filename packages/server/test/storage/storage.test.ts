import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { openLocalStorage } from '../../src/storage/local/index.js';
import { openMemoryStorage } from '../../src/storage/memory/index.js';
import { VersionConflictError, type AppendEntry, type ShardRef, type Storage, type StoredRecord } from '../../src/storage/types.js';

/** One engine under test: `use` opens a fresh store, hands it to the test, and cleans up. */
interface Engine {
  readonly name: string;
  use(fn: (s: Storage) => Promise<void>): Promise<void>;
}

const memory: Engine = {
  name: 'memory',
  async use(fn) {
    const s = openMemoryStorage();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  },
};

/** Runs fn with a fresh temporary directory, removed afterwards. */
async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-storage-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const local: Engine = {
  name: 'local',
  use: (fn) =>
    withDataDir(async (dir) => {
      const s = await openLocalStorage({ dataDir: dir });
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    }),
};

const S0: ShardRef = { streamId: 1, shardIndex: 0 };
const S1: ShardRef = { streamId: 1, shardIndex: 1 };
const T0: ShardRef = { streamId: 2, shardIndex: 0 };

const T = 1_700_000_000_000;

function rec(position: bigint | number, over: Partial<StoredRecord> = {}): StoredRecord {
  const p = BigInt(position);
  return { position: p, arrivalMs: T + Number(p), partitionKey: `pk-${p}`, data: Buffer.from(`data-${p}`), keyId: 0, ...over };
}

function entries(shard: ShardRef, from: number, count: number, over: (p: number) => Partial<StoredRecord> = () => ({})): AppendEntry[] {
  return Array.from({ length: count }, (_, i) => ({ shard, record: rec(from + i, over(from + i)) }));
}

const all = { maxRecords: 1_000_000, maxBytes: Infinity };
const positions = (rs: readonly StoredRecord[]): number[] => rs.map((r) => Number(r.position));
const plain = (r: StoredRecord) => ({ ...r, data: Buffer.from(r.data).toString('hex') });

function contract(engine: Engine): void {
  const { use } = engine;

  describe(`${engine.name} log`, () => {
    it('reads back what was appended, per shard, in position order', async () => {
      await use(async (s) => {
        await s.log.append([...entries(S0, 0, 3), ...entries(S1, 10, 2), ...entries(T0, 5, 1)]);
        await s.log.append(entries(S0, 3, 2));
        assert.deepEqual(positions(await s.log.read(S0, 0n, all)), [0, 1, 2, 3, 4]);
        assert.deepEqual(positions(await s.log.read(S1, 0n, all)), [10, 11]);
        assert.deepEqual(positions(await s.log.read(T0, 0n, all)), [5]);
        assert.deepEqual(positions(await s.log.read(S0, 2n, all)), [2, 3, 4]);
        assert.deepEqual(positions(await s.log.read(S1, 11n, all)), [11]);
        assert.deepEqual(await s.log.read(S0, 5n, all), []);
        assert.deepEqual(await s.log.read({ streamId: 1, shardIndex: 2 }, 0n, all), []);
        assert.deepEqual((await s.log.read(S0, 1n, all)).map(plain)[0], plain(rec(1)));
      });
    });

    it('keeps every field intact: binary data, empty data, 1 MiB data, UTF-8 keys, keyId, arrival', async () => {
      await use(async (s) => {
        const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const big = Buffer.alloc(1024 * 1024, 0xab);
        big[0] = 1;
        big[big.length - 1] = 2;
        const stored = [
          rec(0, { data: bin, partitionKey: 'ünïcødé-🔑', keyId: 4_294_967_295, arrivalMs: 0 }),
          rec(1, { data: new Uint8Array(0), partitionKey: '', arrivalMs: 2 ** 48 - 1 }),
          rec(2, { data: big, partitionKey: 'x'.repeat(256), keyId: 7 }),
        ];
        await s.log.append(stored.map((record) => ({ shard: S0, record })));
        const got = await s.log.read(S0, 0n, all);
        assert.deepEqual(got.map(plain), stored.map(plain));
      });
    });

    it('stores an append given in columns as the same records given as entries', async () => {
      await use(async (s) => {
        // Columns of five records, not in shard order; record 4 belongs to no part.
        const keys = ['a', 'ünï-🔑', '', 'x'.repeat(300), 'skip'];
        const datas = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from([0, 255, 1]), Buffer.from('no')];
        const keyBytes = keys.map((k) => Buffer.from(k, 'utf8'));
        const bounds = new Int32Array(4 * keys.length);
        let d = 0;
        let k = 0;
        for (let i = 0; i < keys.length; i++) {
          bounds.set([d, (d += datas[i]!.length), k, (k += keyBytes[i]!.length)], 4 * i);
        }
        await s.log.append(entries(S1, 0, 2));
        await s.log.appendColumns({
          keyId: 9,
          data: Buffer.concat(datas),
          keys: Buffer.concat(keyBytes),
          bounds,
          parts: [
            { shard: S1, first: 2n, arrivalMs: T + 5, records: [3, 0] },
            { shard: S0, first: 0n, arrivalMs: T, records: [1, 2] },
          ],
        });
        const want = (i: number, position: bigint, arrivalMs: number) => plain({ position, arrivalMs, partitionKey: keys[i]!, data: datas[i]!, keyId: 9 });
        assert.deepEqual((await s.log.read(S0, 0n, all)).map(plain), [want(1, 0n, T), want(2, 1n, T)]);
        assert.deepEqual((await s.log.read(S1, 2n, all)).map(plain), [want(3, 2n, T + 5), want(0, 3n, T + 5)]);
        assert.equal(await s.log.lastPosition(S1), 3n);
        // Refused whole: a position not above the stored ones, a shard twice, bounds outside the columns.
        const one = { keyId: 0, data: Buffer.from('d'), keys: Buffer.from('k'), bounds: Int32Array.of(0, 1, 0, 1) };
        await assert.rejects(s.log.appendColumns({ ...one, parts: [{ shard: T0, first: 0n, arrivalMs: T, records: [0] }, { shard: S0, first: 1n, arrivalMs: T, records: [0] }] }), RangeError);
        await assert.rejects(s.log.appendColumns({ ...one, parts: [{ shard: T0, first: 0n, arrivalMs: T, records: [0] }, { shard: T0, first: 1n, arrivalMs: T, records: [0] }] }), RangeError);
        await assert.rejects(s.log.appendColumns({ ...one, parts: [{ shard: T0, first: 0n, arrivalMs: T, records: [1] }] }), RangeError);
        await assert.rejects(s.log.appendColumns({ ...one, bounds: Int32Array.of(0, 2, 0, 1), parts: [{ shard: T0, first: 0n, arrivalMs: T, records: [0] }] }), RangeError);
        assert.equal(await s.log.lastPosition(T0), undefined);
        assert.deepEqual(positions(await s.log.read(S0, 0n, all)), [0, 1]);
      });
    });

    it('stores column records of any length at any offset byte for byte (property)', async () => {
      const record = fc.record({ data: fc.uint8Array({ maxLength: 300, size: 'max' }), key: fc.string({ maxLength: 60, size: 'max' }) });
      await fc.assert(
        fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 12 }), fc.nat(7), fc.nat(7), async (recs, dataPad, keyPad) => {
          await use(async (s) => {
            // The columns start at odd offsets of larger buffers, as the fast path's do.
            const keyBytes = recs.map((r) => Buffer.from(r.key, 'utf8'));
            const data = Buffer.concat([Buffer.alloc(dataPad + 1, 0xee), ...recs.map((r) => Buffer.from(r.data))]).subarray(1);
            const keys = Buffer.concat([Buffer.alloc(keyPad + 1, 0xdd), ...keyBytes]).subarray(1);
            const bounds = new Int32Array(4 * recs.length);
            let d = dataPad;
            let k = keyPad;
            recs.forEach((r, i) => bounds.set([d, (d += r.data.length), k, (k += keyBytes[i]!.length)], 4 * i));
            await s.log.appendColumns({ keyId: 0, data, keys, bounds, parts: [{ shard: S0, first: 5n, arrivalMs: T, records: recs.map((_, i) => i) }] });
            const got = await s.log.read(S0, 0n, all);
            assert.deepEqual(
              got.map(plain),
              recs.map((r, i) => plain({ position: BigInt(5 + i), arrivalMs: T, partitionKey: r.key, data: Buffer.from(r.data), keyId: 0 })),
            );
          });
        }),
        { numRuns: 60 },
      );
    });

    it('handles shard and position extremes without mixing neighbouring shards', async () => {
      await use(async (s) => {
        const hiShard = { streamId: 2 ** 32 - 1, shardIndex: 2 ** 32 - 1 };
        const nextStream = { streamId: 3, shardIndex: 0 };
        const maxPos = 2n ** 64n - 1n;
        await s.log.append([
          { shard: { streamId: 2, shardIndex: 2 ** 32 - 1 }, record: rec(maxPos, { arrivalMs: T }) },
          { shard: nextStream, record: rec(0) },
          { shard: hiShard, record: rec(maxPos - 1n, { arrivalMs: T }) },
          { shard: hiShard, record: rec(maxPos, { arrivalMs: T }) },
        ]);
        assert.equal(await s.log.lastPosition({ streamId: 2, shardIndex: 2 ** 32 - 1 }), maxPos);
        assert.equal(await s.log.lastPosition(nextStream), 0n);
        assert.equal(await s.log.lastPosition(hiShard), maxPos);
        assert.deepEqual(
          (await s.log.read(hiShard, 0n, all)).map((r) => r.position),
          [maxPos - 1n, maxPos],
        );
        assert.deepEqual(await s.log.read(hiShard, maxPos + 1n, all), []);
        assert.equal(await s.log.positionAtTime(hiShard, T), maxPos - 1n);
        assert.equal(await s.log.positionAtTime(hiShard, T + 1), undefined);
        await s.log.trim(hiShard, maxPos);
        assert.deepEqual((await s.log.read(hiShard, 0n, all)).map((r) => r.position), [maxPos]);
        await s.log.trim(hiShard, maxPos + 1n);
        assert.equal(await s.log.lastPosition(hiShard), undefined);
        assert.equal(await s.log.lastPosition(nextStream), 0n);
      });
    });

    it('caps a read at maxRecords', async () => {
      await use(async (s) => {
        await s.log.append(entries(S0, 0, 10));
        assert.deepEqual(positions(await s.log.read(S0, 0n, { maxRecords: 3, maxBytes: Infinity })), [0, 1, 2]);
        assert.deepEqual(positions(await s.log.read(S0, 8n, { maxRecords: 3, maxBytes: Infinity })), [8, 9]);
        assert.deepEqual(await s.log.read(S0, 0n, { maxRecords: 0, maxBytes: Infinity }), []);
      });
    });

    it('stops after the record that brings data + partition key bytes to maxBytes or beyond', async () => {
      await use(async (s) => {
        // Each record: 10 bytes of data + a 2-byte partition key ("é" is 2 bytes in UTF-8) = 12.
        await s.log.append(entries(S0, 0, 5, () => ({ data: Buffer.alloc(10, 1), partitionKey: 'é' })));
        const take = async (maxBytes: number) => positions(await s.log.read(S0, 0n, { maxRecords: 100, maxBytes }));
        assert.deepEqual(await take(24), [0, 1], 'exactly reaching the limit stops there');
        assert.deepEqual(await take(25), [0, 1, 2], 'the record that crosses the limit is included');
        assert.deepEqual(await take(23), [0, 1]);
        assert.deepEqual(await take(1), [0], 'a first record larger than the limit is still returned');
        assert.deepEqual(await take(0), [0]);
        assert.deepEqual(await take(12 * 5), [0, 1, 2, 3, 4]);
        assert.deepEqual(await take(10_000), [0, 1, 2, 3, 4]);
        assert.deepEqual(positions(await s.log.read(S0, 0n, { maxRecords: 2, maxBytes: 1000 })), [0, 1], 'maxRecords still applies');
      });
    });

    it('counts empty records as zero bytes', async () => {
      await use(async (s) => {
        await s.log.append(entries(S0, 0, 3, () => ({ data: new Uint8Array(0), partitionKey: '' })));
        assert.deepEqual(positions(await s.log.read(S0, 0n, { maxRecords: 10, maxBytes: 1 })), [0, 1, 2]);
        assert.deepEqual(positions(await s.log.read(S0, 0n, { maxRecords: 10, maxBytes: 0 })), [0]);
      });
    });

    it('returns data that stays valid across later reads and writes', async () => {
      await use(async (s) => {
        await s.log.append(entries(S0, 0, 50, (p) => ({ data: Buffer.alloc(100, p) })));
        const first = await s.log.read(S0, 0n, all);
        for (let i = 0; i < 5; i++) {
          await s.log.read(S0, 0n, all);
          await s.log.append(entries(S0, 50 + i * 10, 10, () => ({ data: Buffer.alloc(100, 0xee) })));
        }
        await s.log.trim(S0, 25n);
        first.forEach((r, i) => assert.deepEqual(Buffer.from(r.data), Buffer.alloc(100, i)));
      });
    });

    it('does not keep a reference to the caller buffers', async () => {
      await use(async (s) => {
        const data = Buffer.from('original');
        await s.log.append([{ shard: S0, record: rec(0, { data }) }]);
        data.fill(0);
        assert.equal(Buffer.from((await s.log.read(S0, 0n, all))[0]!.data).toString(), 'original');
      });
    });

    it('reports the last position per shard', async () => {
      await use(async (s) => {
        assert.equal(await s.log.lastPosition(S0), undefined);
        await s.log.append([...entries(S0, 0, 3), ...entries(S1, 100, 1)]);
        assert.equal(await s.log.lastPosition(S0), 2n);
        assert.equal(await s.log.lastPosition(S1), 100n);
        assert.equal(await s.log.lastPosition(T0), undefined);
      });
    });

    it('rejects positions that do not increase, writing nothing of that call', async () => {
      await use(async (s) => {
        await s.log.append(entries(S0, 0, 3));
        await assert.rejects(s.log.append([...entries(S1, 0, 2), ...entries(S0, 2, 1)]), RangeError);
        await assert.rejects(s.log.append([...entries(S1, 0, 2), { shard: S1, record: rec(1) }]), RangeError);
        await assert.rejects(s.log.append([{ shard: S1, record: rec(-1) }]), RangeError);
        await assert.rejects(s.log.append([{ shard: { streamId: -1, shardIndex: 0 }, record: rec(0) }]), RangeError);
        await assert.rejects(s.log.append([{ shard: S1, record: rec(0, { arrivalMs: 1.5 }) }]), RangeError);
        assert.equal(await s.log.lastPosition(S1), undefined);
        assert.equal(await s.log.lastPosition(S0), 2n);
        await s.log.append(entries(S0, 5, 1));
        assert.deepEqual(positions(await s.log.read(S0, 0n, all)), [0, 1, 2, 5]);
        await s.log.append([]);
      });
    });

    it('keeps concurrent appends whole and ordered', async () => {
      await use(async (s) => {
        const shards = [S0, S1, T0];
        const next = [0, 0, 0];
        const calls: Promise<void>[] = [];
        for (let c = 0; c < 40; c++) {
          const batch: AppendEntry[] = [];
          for (let i = 0; i < 25; i++) {
            const k = (c + i) % 3;
            batch.push({ shard: shards[k]!, record: rec(next[k]!++) });
          }
          calls.push(s.log.append(batch));
        }
        await Promise.all(calls);
        for (const [k, shard] of shards.entries()) {
          assert.deepEqual(positions(await s.log.read(shard, 0n, all)), Array.from({ length: next[k]! }, (_, i) => i));
        }
      });
    });

    it('finds the first record at or after a time', async () => {
      await use(async (s) => {
        assert.equal(await s.log.positionAtTime(S0, T), undefined);
        // Arrivals 100,100,200,200,200,300 at positions 10..15 (non-decreasing, with ties).
        const arrivals = [100, 100, 200, 200, 200, 300];
        await s.log.append(arrivals.map((a, i) => ({ shard: S0, record: rec(10 + i, { arrivalMs: a }) })));
        assert.equal(await s.log.positionAtTime(S0, 0), 10n);
        assert.equal(await s.log.positionAtTime(S0, 100), 10n);
        assert.equal(await s.log.positionAtTime(S0, 101), 12n);
        assert.equal(await s.log.positionAtTime(S0, 200), 12n);
        assert.equal(await s.log.positionAtTime(S0, 250), 15n);
        assert.equal(await s.log.positionAtTime(S0, 300), 15n);
        assert.equal(await s.log.positionAtTime(S0, 301), undefined);
        assert.equal(await s.log.positionAtTime(S1, 0), undefined);
      });
    });

    it('finds the first record at or after a time on any shard shape (property)', async () => {
      await use(async (s) => {
        let streamId = 100;
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 60 }),
            fc.integer({ min: 0, max: 50 }),
            fc.integer({ min: -5, max: 200 }),
            async (steps, trimCount, probe) => {
              const shard = { streamId: streamId++, shardIndex: 0 };
              // Positions advance by random gaps, arrivals by random (possibly zero) steps.
              let p = 0n;
              let a = 0;
              const stored = steps.map(([dp, da]) => rec((p += BigInt(dp)), { arrivalMs: (a += da) }));
              await s.log.append(stored.map((record) => ({ shard, record })));
              const before = stored[Math.min(trimCount, stored.length - 1)]!.position;
              await s.log.trim(shard, before);
              const live = stored.filter((r) => r.position >= before);
              const at = probe < 0 ? 0 : probe;
              assert.equal(await s.log.positionAtTime(shard, at), live.find((r) => r.arrivalMs >= at)?.position);
            },
          ),
          { numRuns: 60 },
        );
      });
    });

    it('trims the records before a position', async () => {
      await use(async (s) => {
        await s.log.append([...entries(S0, 0, 10), ...entries(S1, 0, 3)]);
        await s.log.trim(S0, 0n);
        assert.equal((await s.log.read(S0, 0n, all)).length, 10);
        await s.log.trim(S0, 4n);
        assert.deepEqual(positions(await s.log.read(S0, 0n, all)), [4, 5, 6, 7, 8, 9]);
        assert.equal(await s.log.positionAtTime(S0, 0), 4n);
        await s.log.trim(S0, 20n);
        assert.deepEqual(await s.log.read(S0, 0n, all), []);
        assert.equal(await s.log.lastPosition(S0), undefined);
        assert.equal((await s.log.read(S1, 0n, all)).length, 3);
        await s.log.append(entries(S0, 20, 1));
        assert.deepEqual(positions(await s.log.read(S0, 0n, all)), [20]);
      });
    });

    it('trims and drops shards larger than one delete chunk', async () => {
      await use(async (s) => {
        const n = 10_000;
        for (let i = 0; i < n; i += 2500) await s.log.append([...entries(S0, i, 2500), ...entries(S1, i, 2500)]);
        await s.log.trim(S0, 9_001n);
        assert.equal((await s.log.read(S0, 0n, all)).length, 999);
        assert.equal((await s.log.read(S0, 0n, all))[0]!.position, 9001n);
        await s.log.dropShard(S1);
        assert.deepEqual(await s.log.read(S1, 0n, all), []);
        assert.equal(await s.log.lastPosition(S1), undefined);
        assert.equal(await s.log.lastPosition(S0), BigInt(n - 1));
      });
    });

    it('drops one shard and leaves its neighbours', async () => {
      await use(async (s) => {
        await s.log.append([...entries(S0, 0, 5), ...entries(S1, 0, 5), ...entries(T0, 0, 5)]);
        await s.log.dropShard(S1);
        assert.deepEqual(await s.log.read(S1, 0n, all), []);
        assert.equal(await s.log.positionAtTime(S1, 0), undefined);
        assert.equal((await s.log.read(S0, 0n, all)).length, 5);
        assert.equal((await s.log.read(T0, 0n, all)).length, 5);
        await s.log.dropShard(S1);
        await s.log.append(entries(S1, 0, 1));
        assert.deepEqual(positions(await s.log.read(S1, 0n, all)), [0]);
      });
    });
  });

  describe(`${engine.name} meta`, () => {
    it('versions records from 1 and bumps them on every put', async () => {
      await use(async (s) => {
        assert.equal(await s.meta.get('stream/a'), undefined);
        assert.equal(await s.meta.put('stream/a', { n: 1 }), 1);
        assert.equal(await s.meta.put('stream/a', { n: 2 }), 2);
        assert.deepEqual(await s.meta.get('stream/a'), { key: 'stream/a', value: { n: 2 }, version: 2 });
        assert.equal(await s.meta.put('stream/a', { n: 3 }, 2), 3);
        assert.deepEqual(await s.meta.get<{ n: number }>('stream/a'), { key: 'stream/a', value: { n: 3 }, version: 3 });
      });
    });

    it('compares and sets', async () => {
      await use(async (s) => {
        assert.equal(await s.meta.put('k', 'a', 0), 1);
        await assert.rejects(s.meta.put('k', 'b', 0), VersionConflictError);
        await assert.rejects(s.meta.put('k', 'b', 2), VersionConflictError);
        await assert.rejects(s.meta.put('other', 'b', 1), VersionConflictError);
        assert.deepEqual(await s.meta.get('k'), { key: 'k', value: 'a', version: 1 });
        assert.equal(await s.meta.get('other'), undefined);
        await assert.rejects(s.meta.delete('k', 2), VersionConflictError);
        await assert.rejects(s.meta.delete('absent', 1), VersionConflictError);
        await s.meta.delete('absent');
        await s.meta.delete('absent', 0);
        await s.meta.delete('k', 1);
        assert.equal(await s.meta.get('k'), undefined);
        assert.equal(await s.meta.put('k', 'again', 0), 1, 'a deleted record starts over at version 1');
      });
    });

    it('lets exactly one of many concurrent compare-and-sets win', async () => {
      await use(async (s) => {
        await s.meta.put('lease', { owner: 'none' });
        const tries = Array.from({ length: 20 }, (_, i) => s.meta.put('lease', { owner: `w${i}` }, 1));
        const results = await Promise.allSettled(tries);
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof VersionConflictError);
        assert.equal((await s.meta.get('lease'))?.version, 2);
        const unconditional = await Promise.all(Array.from({ length: 10 }, (_, i) => s.meta.put('counter', i)));
        assert.deepEqual([...unconditional].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });
    });

    it('lists by prefix in key order', async () => {
      await use(async (s) => {
        for (const k of ['s/b', 's/a', 's/a/x', 't/a', 's', 's0', 'r/z', 's/é', 's/z']) await s.meta.put(k, k.length);
        assert.deepEqual(
          (await s.meta.list('s/')).map((v) => v.key),
          ['s/a', 's/a/x', 's/b', 's/z', 's/é'],
        );
        assert.deepEqual((await s.meta.list<number>('s/a')).map((v) => [v.key, v.value, v.version]), [
          ['s/a', 3, 1],
          ['s/a/x', 5, 1],
        ]);
        assert.deepEqual(await s.meta.list('nothing/'), []);
        assert.equal((await s.meta.list('')).length, 9);
      });
    });

    it('round-trips JSON values and refuses what JSON cannot hold', async () => {
      await use(async (s) => {
        const value = { a: [1, 'two', null, { b: true }], s: 'ünï', n: -1.5, d: new Date(0) };
        await s.meta.put('v', value);
        assert.deepEqual((await s.meta.get('v'))?.value, JSON.parse(JSON.stringify(value)));
        await assert.rejects(s.meta.put('u', undefined), TypeError);
        await assert.rejects(s.meta.put('', 1), RangeError);
      });
    });
  });
}

contract(memory);
contract(local);

describe('local tail cache', () => {
  it('serves every position as the files do, across partly evicted rounds and shards', async () => {
    await withDataDir(async (dir) => {
      // ~1.2 MB into S0 in rounds of 1 to 180 records (a 256 KiB cache per shard keeps the newest
      // part, cut inside a round), some rounds shared with S1.
      const sizes = [1, 180, 7, 64, 3, 120, 1, 1, 90, 33, 150, 2, 77, 160, 5, 128, 40, 1, 99, 170];
      const data = (p: number) => ({ data: Buffer.alloc(300 + (p % 50), p % 251), partitionKey: `key-${p}-é` });
      const a = await openLocalStorage({ dataDir: dir });
      let next = 0;
      for (const n of [...sizes, ...sizes]) {
        await a.log.append([...entries(S0, next, n, data), ...(n % 2 === 1 ? entries(S1, next, 1) : [])]);
        next += n;
      }
      const expect = (from: number, count: number) => Array.from({ length: count }, (_, i) => plain(rec(from + i, data(from + i))));
      const reads = async (s: Storage): Promise<unknown[]> => {
        const got: unknown[] = [];
        for (let p = 0; p < next; p += 7) {
          const r = await s.log.read(S0, BigInt(p), { maxRecords: 25, maxBytes: 5_000 });
          // Up to 25 records, or to the one whose data + key bytes reach 5,000.
          let n = 0;
          for (let bytes = 0; n < 25 && p + n < next && bytes < 5_000; n++) {
            const d = data(p + n);
            bytes += d.data.length + Buffer.byteLength(d.partitionKey);
          }
          assert.deepEqual(r.map(plain), expect(p, n), `read at ${p}`);
          got.push(r.map(plain));
        }
        return got;
      };
      const cached = await reads(a);
      await a.close();
      const b = await openLocalStorage({ dataDir: dir });
      assert.deepEqual(await reads(b), cached, 'the files give what the cache gave');
      await b.close();
    });
  });
});

describe('local column appends', () => {
  it('index runs as the files do: reads and times from every part of long runs, after eviction and reopen', async () => {
    await withDataDir(async (dir) => {
      // ~1.5 MB into S0 in runs of 1 to 500 records (the index takes an entry every 64 records or
      // 16 KiB, the cache keeps 256 KiB), each run at its own arrival time.
      const sizes = [1, 500, 7, 64, 3, 200, 1, 65, 128, 129, 33, 400, 2];
      const payload = (p: number) => Buffer.alloc(200 + (p % 70), p % 251);
      const key = (p: number) => `k${p}-é`;
      const arrival = new Map<number, number>();
      const a = await openLocalStorage({ dataDir: dir });
      let next = 0;
      for (const [run, n] of [...sizes, ...sizes].entries()) {
        const datas = Array.from({ length: n }, (_, j) => payload(next + j));
        const keys = Array.from({ length: n }, (_, j) => Buffer.from(key(next + j)));
        const bounds = new Int32Array(4 * n);
        let d = 0;
        let k = 0;
        for (let j = 0; j < n; j++) bounds.set([d, (d += datas[j]!.length), k, (k += keys[j]!.length)], 4 * j);
        const at = T + 1000 * run;
        for (let j = 0; j < n; j++) arrival.set(next + j, at);
        await a.log.appendColumns({ keyId: 0, data: Buffer.concat(datas), keys: Buffer.concat(keys), bounds, parts: [{ shard: S0, first: BigInt(next), arrivalMs: at, records: Array.from({ length: n }, (_, j) => j) }] });
        next += n;
      }
      const reads = async (s: Storage): Promise<void> => {
        assert.equal(await s.log.lastPosition(S0), BigInt(next - 1));
        for (let p = 0; p < next; p += 5) {
          const r = await s.log.read(S0, BigInt(p), { maxRecords: 3, maxBytes: Infinity });
          const want = Array.from({ length: Math.min(3, next - p) }, (_, j) => plain({ position: BigInt(p + j), arrivalMs: arrival.get(p + j)!, partitionKey: key(p + j), data: payload(p + j), keyId: 0 }));
          assert.deepEqual(r.map(plain), want, `read at ${p}`);
        }
        for (let run = 0; run < 2 * sizes.length; run++) {
          const first = [...arrival].find(([, t]) => t === T + 1000 * run)![0];
          assert.equal(await s.log.positionAtTime(S0, T + 1000 * run - 500), BigInt(first), `run ${run}`);
        }
      };
      await reads(a);
      await a.close();
      const b = await openLocalStorage({ dataDir: dir });
      await reads(b);
      await b.close();
    });
  });
});

describe('local durability across reopen', () => {
  it('keeps records, last positions and meta after close and reopen', async () => {
    await withDataDir(async (dir) => {
      const a = await openLocalStorage({ dataDir: dir });
      await a.log.append([...entries(S0, 0, 100), ...entries(S1, 7, 1)]);
      await a.log.trim(S0, 10n);
      await a.meta.put('stream/x', { id: 1 });
      await a.meta.put('stream/x', { id: 2 }, 1);
      await a.close();
      await a.close();

      const b = await openLocalStorage({ dataDir: dir });
      assert.equal(await b.log.lastPosition(S0), 99n);
      assert.equal(await b.log.lastPosition(S1), 7n);
      assert.equal(await b.log.lastPosition(T0), undefined);
      const got = await b.log.read(S0, 0n, all);
      assert.deepEqual(got.map(plain), Array.from({ length: 90 }, (_, i) => plain(rec(10 + i))));
      assert.deepEqual(await b.meta.get('stream/x'), { key: 'stream/x', value: { id: 2 }, version: 2 });
      await b.log.append(entries(S0, 100, 1));
      await b.close();
    });
  });

  it('opens a data dir whose name looks like a file name', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'eddy-storage-')), 'data.v1');
    try {
      const s = await openLocalStorage({ dataDir: dir });
      await s.meta.put('k', 1);
      await s.close();
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
