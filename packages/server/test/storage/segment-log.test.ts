/**
 * The segment log of the local engine below the contract: segment rolling, and recovery from the
 * states a crash can leave (storage/local/log-store.ts, "Durability and all-or-nothing"), made by
 * hand so that each is certain to be exercised rather than hit by a lucky kill.
 */
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SEGMENT_MAGIC, encodeAppend, roundFrame, roundPartFrame } from '../../src/storage/local/frames.js';
import { COMMIT_SLOT_STRIDE, openSegmentLog, slot } from '../../src/storage/local/log-store.js';
import type { AppendEntry, ShardRef } from '../../src/storage/types.js';
import { S0, S1, T, T0, all, entries, positions, range } from './log-records.js';

function withDir(fn: (logDir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-seglog-'));
  return fn(join(dir, 'log')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const shardDir = (logDir: string, s: ShardRef): string => join(logDir, String(s.streamId), String(s.shardIndex));
const segments = (logDir: string, s: ShardRef): string[] => readdirSync(shardDir(logDir, s)).filter((n) => n.endsWith('.seg')).sort();
const lastSegment = (logDir: string, s: ShardRef): string => join(shardDir(logDir, s), segments(logDir, s).at(-1)!);

function committedRound(logDir: string): number {
  const b = readFileSync(join(logDir, 'commit'));
  return Math.max(Number(b.readBigUInt64LE(4)), Number(b.readBigUInt64LE(COMMIT_SLOT_STRIDE + 4)));
}

/** The frames a round would write for one shard, as log-store.ts lays them out. */
function roundBytes(round: number, es: AppendEntry[]): Buffer {
  return Buffer.concat([roundFrame(round), ...encodeAppend(es).map((c) => c.bytes)]);
}

/** One shard's part of a round as log-store.ts writes it now: `parts` shards in the round. */
function partBytes(round: number, parts: number, es: AppendEntry[]): Buffer {
  const frames = Buffer.concat(encodeAppend(es).map((c) => c.bytes));
  return Buffer.concat([roundPartFrame(round, parts, frames.length), frames]);
}

describe('segment log', () => {
  it('rolls segments and reads, trims and finds times across them, before and after reopen', async () => {
    await withDir(async (logDir) => {
      let log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      for (let i = 0; i < 2000; i += 100) await log.append([...entries(S0, i, 100), ...entries(S1, i, 100, 300)]);
      assert.ok(segments(logDir, S0).length > 10, `S0 has ${segments(logDir, S0).length} segments`);
      const check = async (floor: number) => {
        assert.deepEqual(positions(await log.read(S0, 0n, all)), range(floor, 2000 - floor));
        for (const from of [floor, 777, 1234, 1999]) {
          const got = await log.read(S0, BigInt(from), { maxRecords: 50, maxBytes: Infinity });
          assert.deepEqual(positions(got), range(Math.max(from, floor), Math.min(50, 2000 - Math.max(from, floor))));
          assert.deepEqual(Buffer.from(got[0]!.data), Buffer.alloc(40, Math.max(from, floor) & 0xff));
        }
        for (const at of [0, 500, 1500, 1999]) assert.equal(await log.positionAtTime(S0, T + at), BigInt(Math.max(at, floor)));
        assert.equal(await log.positionAtTime(S0, T + 2000), undefined);
        assert.equal(await log.lastPosition(S0), 1999n);
      };
      await check(0);
      const before = segments(logDir, S0).length;
      await log.trim(S0, 1003n);
      assert.ok(segments(logDir, S0).length < before, 'whole segments below the floor are deleted');
      await check(1003);
      await log.close();
      log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      await check(1003);
      assert.equal((await log.read(S1, 0n, all)).length, 2000);
      await log.append(entries(S0, 2000, 10));
      assert.equal(await log.lastPosition(S0), 2009n);
      await log.close();
    });
  });

  it('drops a round that was written to several shards but not committed, whole', async () => {
    await withDir(async (logDir) => {
      let log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      await log.append([...entries(S0, 0, 5), ...entries(S1, 0, 5)]);
      await log.close();
      const round = committedRound(logDir) + 1;
      // The crash: round `round` reached S0's last segment whole and S1 as a segment of its own,
      // but the commit record was never written.
      appendFileSync(lastSegment(logDir, S0), roundBytes(round, entries(S0, 5, 3)));
      const orphan = join(shardDir(logDir, S1), `${'5'.padStart(20, '0')}.seg`);
      writeFileSync(orphan, Buffer.concat([SEGMENT_MAGIC, roundBytes(round, entries(S1, 5, 3))]));
      log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 5));
      assert.deepEqual(positions(await log.read(S1, 0n, all)), range(0, 5));
      assert.equal(existsSync(orphan), false, 'a segment holding only the uncommitted round is removed');
      // The store goes on from there, and a later crash cannot bring the dropped frames back.
      await log.append([...entries(S0, 5, 1), ...entries(S1, 5, 1)]);
      await log.close();
      log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 6));
      assert.deepEqual(positions(await log.read(S1, 0n, all)), range(0, 6));
      await log.close();
    });
  });

  it('keeps a round whose commit record was written', async () => {
    await withDir(async (logDir) => {
      let log = await openSegmentLog(logDir);
      await log.append([...entries(S0, 0, 5), ...entries(S1, 0, 5)]);
      await log.close();
      const round = committedRound(logDir) + 1;
      appendFileSync(lastSegment(logDir, S0), roundBytes(round, entries(S0, 5, 3)));
      appendFileSync(lastSegment(logDir, S1), roundBytes(round, entries(S1, 5, 3)));
      const fd = openSync(join(logDir, 'commit'), 'r+');
      writeSync(fd, slot(round), 0, 16, (round % 2) * COMMIT_SLOT_STRIDE);
      closeSync(fd);
      log = await openSegmentLog(logDir);
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 8));
      assert.deepEqual(positions(await log.read(S1, 0n, all)), range(0, 8));
      await log.close();
    });
  });

  it('truncates a torn tail and a tail that fails its CRC, and ignores a torn commit slot', async () => {
    await withDir(async (logDir) => {
      let log = await openSegmentLog(logDir);
      await log.append(entries(S0, 0, 5));
      await log.append(entries(T0, 0, 5));
      await log.append(entries(T0, 5, 5));
      await log.close();
      const round = committedRound(logDir);
      // S0: half of the next round's frames.
      const next = roundBytes(round + 1, entries(S0, 5, 4));
      appendFileSync(lastSegment(logDir, S0), next.subarray(0, next.length - 30));
      // T0: the last committed record's data damaged on disk.
      const t0 = lastSegment(logDir, T0);
      const b = readFileSync(t0);
      b[b.length - 1] = b[b.length - 1]! ^ 0xff;
      writeFileSync(t0, b);
      // The next commit slot torn (garbage), as a crash in the middle of writing it would leave it.
      const fd = openSync(join(logDir, 'commit'), 'r+');
      writeSync(fd, Buffer.alloc(16, 0x5a), 0, 16, ((round + 1) % 2) * COMMIT_SLOT_STRIDE);
      closeSync(fd);
      const sizeBefore = statSync(lastSegment(logDir, S0)).size;
      log = await openSegmentLog(logDir);
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 5));
      assert.ok(statSync(lastSegment(logDir, S0)).size < sizeBefore, 'the torn tail is cut off the file');
      assert.deepEqual(positions(await log.read(T0, 0n, all)), range(0, 9), 'cut at the first frame that fails its CRC');
      await log.append(entries(S0, 5, 2));
      await log.append(entries(T0, 9, 1));
      await log.close();
      log = await openSegmentLog(logDir);
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 7));
      assert.deepEqual(positions(await log.read(T0, 0n, all)), range(0, 10));
      await log.close();
    });
  });

  it('removes a segment whose header was torn, and finishes a trim cut short by a crash', async () => {
    await withDir(async (logDir) => {
      let log = await openSegmentLog(logDir, { segmentBytes: 1024 });
      for (let i = 0; i < 100; i += 10) await log.append(entries(S0, i, 10));
      await log.trim(S0, 55n);
      await log.close();
      // A crash right after creating the next segment, before its header was complete.
      const torn = join(shardDir(logDir, S0), `${'100'.padStart(20, '0')}.seg`);
      writeFileSync(torn, SEGMENT_MAGIC.subarray(0, 3));
      log = await openSegmentLog(logDir, { segmentBytes: 1024 });
      assert.equal(existsSync(torn), false);
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(55, 45));
      await log.close();
      // A trim whose floor was written but whose deletions did not happen: reopening finishes it.
      writeFileSync(join(shardDir(logDir, S0), 'trim'), readFileSync(join(shardDir(logDir, S0), 'trim')));
      log = await openSegmentLog(logDir, { segmentBytes: 1024 });
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(55, 45));
      await log.trim(S0, 1000n);
      assert.deepEqual(segments(logDir, S0), []);
      // A shard trimmed empty takes lower positions again, and no stale floor hides them.
      await log.append(entries(S0, 3, 2));
      await log.close();
      log = await openSegmentLog(logDir, { segmentBytes: 1024 });
      assert.deepEqual(positions(await log.read(S0, 0n, all)), [3, 4]);
      await log.close();
    });
  });

  it('keeps a round whose parts are all whole, with nothing in the commit file', async () => {
    await withDir(async (logDir) => {
      let log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      await log.append([...entries(S0, 0, 5), ...entries(S1, 0, 5)]);
      await log.close();
      const round = committedRound(logDir) + 1;
      // The crash: both parts of the next round synced, the process gone before anything else.
      appendFileSync(lastSegment(logDir, S0), partBytes(round, 2, entries(S0, 5, 3)));
      const fresh = join(shardDir(logDir, S1), `${'5'.padStart(20, '0')}.seg`);
      writeFileSync(fresh, Buffer.concat([SEGMENT_MAGIC, partBytes(round, 2, entries(S1, 5, 3))]));
      log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 8));
      assert.deepEqual(positions(await log.read(S1, 0n, all)), range(0, 8));
      // Round numbers go on above the kept round: a later torn round is still told apart.
      await log.append([...entries(S0, 8, 1), ...entries(S1, 8, 1)]);
      await log.close();
      assert.equal(committedRound(logDir), round + 1);
      log = await openSegmentLog(logDir, { segmentBytes: 4096 });
      assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 9));
      await log.close();
    });
  });

  it('drops a round, in every shard, when one of its parts is missing or torn', async () => {
    for (const damage of ['missing', 'torn', 'torn header'] as const) {
      await withDir(async (logDir) => {
        let log = await openSegmentLog(logDir, { segmentBytes: 4096 });
        await log.append([...entries(S0, 0, 5), ...entries(S1, 0, 5), ...entries(T0, 0, 5)]);
        await log.close();
        const round = committedRound(logDir) + 1;
        appendFileSync(lastSegment(logDir, S0), partBytes(round, 3, entries(S0, 5, 3)));
        const orphan = join(shardDir(logDir, T0), `${'5'.padStart(20, '0')}.seg`);
        writeFileSync(orphan, Buffer.concat([SEGMENT_MAGIC, partBytes(round, 3, entries(T0, 5, 3))]));
        const s1 = partBytes(round, 3, entries(S1, 5, 3));
        if (damage === 'torn') appendFileSync(lastSegment(logDir, S1), s1.subarray(0, s1.length - 30));
        if (damage === 'torn header') appendFileSync(lastSegment(logDir, S1), s1.subarray(0, 12));
        log = await openSegmentLog(logDir, { segmentBytes: 4096 });
        for (const s of [S0, S1, T0]) assert.deepEqual(positions(await log.read(s, 0n, all)), range(0, 5), `${damage}: shard ${s.streamId}/${s.shardIndex}`);
        assert.equal(existsSync(orphan), false, 'a segment holding only the dropped round is removed');
        await log.append([...entries(S0, 5, 1), ...entries(S1, 5, 1)]);
        await log.close();
        log = await openSegmentLog(logDir, { segmentBytes: 4096 });
        assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 6));
        assert.deepEqual(positions(await log.read(S1, 0n, all)), range(0, 6));
        assert.deepEqual(positions(await log.read(T0, 0n, all)), range(0, 5));
        await log.close();
      });
    }
  });

  it('keeps the last round when a trim or a drop took one of its parts away before a crash', async () => {
    for (const how of ['trim', 'drop'] as const) {
      await withDir(async (logDir) => {
        const first = await openSegmentLog(logDir);
        await first.append([...entries(S0, 0, 5), ...entries(S1, 0, 5)]);
        if (how === 'trim') await first.trim(S1, 100n);
        else await first.dropShard(S1);
        // The crash: `first` is never closed. Its round now has one part on disk where it declared two.
        const log = await openSegmentLog(logDir);
        assert.deepEqual(positions(await log.read(S0, 0n, all)), range(0, 5), how);
        assert.deepEqual(positions(await log.read(S1, 0n, all)), [], how);
        await log.close();
      });
    }
  });

  it('makes a multi-shard append visible only once it is durable, and all at once', async () => {
    await withDir(async (logDir) => {
      const log = await openSegmentLog(logDir);
      await log.append(entries(S0, 0, 1));
      const pending = log.append([...entries(S0, 1, 50), ...entries(S1, 0, 50)]);
      const seen: [number, number][] = [];
      let done = false;
      void pending.then(() => (done = true));
      while (!done) {
        const a = (await log.read(S0, 0n, all)).length;
        const b = (await log.read(S1, 0n, all)).length;
        seen.push([a, b]);
        // Reads served from memory resolve in microtasks: let the I/O of the round complete.
        await new Promise(setImmediate);
      }
      await pending;
      assert.ok(seen.length > 0);
      for (const [a, b] of seen) assert.ok((a === 1 && b === 0) || (a === 51 && b === 50), `saw ${a} and ${b} records`);
      assert.equal((await log.read(S1, 0n, all)).length, 50);
      await log.close();
    });
  });
});

