/**
 * The commit log of the local engine (storage/local/commit-log.ts): its records read back, and
 * recovery from what a power cut can leave of segment files that were never synced (a kill -9 keeps
 * the page cache, so the crash tests cannot lose those writes; here the loss is made by hand, the
 * worst a cut can do: every byte after the last checkpoint gone).
 */
import assert from 'node:assert/strict';
import { cpSync, ftruncateSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { journalHead, readJournal, readJournals, roundsAfter, type LoggedRound } from '../../src/storage/local/commit-log.js';
import { openSegmentLog, COMMIT_SLOT_STRIDE } from '../../src/storage/local/log-store.js';
import type { AppendEntry, ShardRef } from '../../src/storage/types.js';
import { S0, S1, T0, all, entries, positions, range } from './log-records.js';

function withDirs(fn: (root: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-journal-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** One journal record as the store writes it. */
function record(round: number, parts: { path: string; at: number; data: Buffer }[]): Buffer {
  const js = parts.map((p) => ({ path: p.path, at: p.at, bufs: [p.data] }));
  return Buffer.concat([journalHead(round, js), ...parts.map((p) => p.data)]);
}
const part = (n: number): { path: string; at: number; data: Buffer } => ({ path: `1/${n % 3}/${String(n).padStart(20, '0')}.seg`, at: 8 + n * 100, data: Buffer.alloc(50 + n, n) });
const rounds = (rs: LoggedRound[]): number[] => rs.map((r) => r.round);

/** The last checkpoint the commit file records (the higher of its two slots that are sound). */
function checkpoint(logDir: string): number {
  const b = readFileSync(join(logDir, 'commit'));
  const slots = [0, COMMIT_SLOT_STRIDE].filter((at) => b.readUInt32LE(at) === 0x3143_4445).map((at) => Number(b.readBigUInt64LE(at + 4)));
  return Math.max(...slots);
}

/**
 * A power cut at its worst: every shard's segments lose everything after the last round part
 * whose round is at most `upTo` (later segments are left empty, as a created but unsynced file is).
 */
function loseAfter(logDir: string, upTo: number): number {
  let cut = 0;
  for (const stream of readdirSync(logDir).filter((n) => /^\d+$/.test(n))) {
    for (const shard of readdirSync(join(logDir, stream))) {
      const dir = join(logDir, stream, shard);
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.seg'))) {
        const path = join(dir, name);
        const b = readFileSync(path);
        let at = 8;
        let keep = b.length;
        while (at + 8 <= b.length) {
          const len = b.readUInt32LE(at);
          if (b[at + 8] === 3 && Number(b.readBigUInt64LE(at + 9)) > upTo) {
            keep = at;
            break;
          }
          at += 8 + len;
        }
        if (keep < b.length) {
          cut += b.length - keep;
          const fd = openSync(path, 'r+');
          ftruncateSync(fd, keep > 8 ? keep : 0);
          closeSync(fd);
        }
      }
    }
  }
  return cut;
}

describe('commit log', () => {
  it('reads back whole records in round order, stops at a torn, damaged or stale one, and passes over checkpointed ones', () => {
    const r5 = record(5, [part(1), part(2)]);
    const r6 = record(6, [part(3)]);
    const r7 = record(7, [part(4), part(5), part(6)]);
    const got = readJournal(Buffer.concat([r5, r6, r7]));
    assert.deepEqual(rounds(got), [5, 6, 7]);
    assert.deepEqual(got[2]!.parts, [part(4), part(5), part(6)]);
    // Left from an older pass over the file: a sound record, but not the next round.
    assert.deepEqual(rounds(readJournal(Buffer.concat([r5, r6, record(3, [part(7)])]))), [5, 6]);
    // Torn anywhere in the last record.
    for (const keep of [1, 20, r7.length - 60, r7.length - 1]) {
      assert.deepEqual(rounds(readJournal(Buffer.concat([r5, r6, r7.subarray(0, keep)]))), [5, 6], `torn at ${keep}`);
    }
    // A byte of the payload or of the header changed.
    for (const at of [4, 17, 40, r7.length - 5]) {
      const bad = Buffer.from(r7);
      bad[at] = bad[at]! ^ 0x01;
      assert.deepEqual(rounds(readJournal(Buffer.concat([r5, r6, bad]))), [5, 6], `byte ${at} changed`);
    }
    assert.deepEqual(readJournal(Buffer.alloc(0)), []);
    assert.deepEqual(readJournal(Buffer.alloc(4096)), []);
    // Rounds a checkpoint covers are passed over (their payload not even read), and the file is
    // read the same way through its descriptor.
    assert.deepEqual(rounds(readJournal(Buffer.concat([r5, r6, r7]), 5)), [6, 7]);
    const dir = mkdtempSync(join(tmpdir(), 'eddy-journal-'));
    try {
      writeFileSync(join(dir, 'journal-0'), Buffer.concat([r5, r6, r7, record(3, [part(7)])]));
      writeFileSync(join(dir, 'journal-1'), Buffer.concat([record(8, [part(8)]), r7.subarray(0, 50)]));
      const got = readJournals(dir, 6);
      assert.deepEqual(got.map(rounds), [[7], [8]]);
      assert.deepEqual(got[0]![0]!.parts, [part(4), part(5), part(6)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the rounds after a checkpoint from the two journals, and refuses a gap', () => {
    const run = (from: number, to: number): LoggedRound[] => range(from, to - from + 1).map((round) => ({ round, parts: [] }));
    assert.deepEqual(rounds(roundsAfter([run(5, 8), run(9, 12)], 6)), range(7, 6));
    assert.deepEqual(rounds(roundsAfter([run(9, 12), run(5, 8)], 4)), range(5, 8));
    assert.deepEqual(rounds(roundsAfter([run(9, 12), run(1, 4)], 8)), range(9, 4), 'an older run below the checkpoint is ignored');
    assert.deepEqual(rounds(roundsAfter([run(1, 4), []], 4)), []);
    assert.deepEqual(rounds(roundsAfter([[], []], 0)), []);
    assert.throws(() => roundsAfter([run(9, 12), []], 4), /round 9 is there but round 5 is not/);
    assert.throws(() => roundsAfter([run(5, 6), run(8, 9)], 4), /round 8 is there but round 7 is not/);
  });

  it('brings back every acknowledged record after a power cut took all that was written since the last checkpoint', async () => {
    // Small journals, so that they are switched and checkpointed many times along the way.
    for (const journalBytes of [1 << 30, 3000]) {
      await withDirs(async (root) => {
        const live = join(root, 'live');
        const log = await openSegmentLog(live, { segmentBytes: 2048, journalBytes });
        const expected = new Map<ShardRef, number>([
          [S0, 0],
          [S1, 0],
          [T0, 0],
        ]);
        let lost = 0;
        for (let i = 0; i < 40; i++) {
          const batch: AppendEntry[] = [];
          for (const [s, n] of expected) {
            const count = (i + s.shardIndex + s.streamId) % 4;
            batch.push(...entries(s, n, count, 30 + i * 3));
            expected.set(s, n + count);
          }
          if (batch.length > 0) await log.append(batch);
          if (i % 13 === 12 || i === 39) {
            // The power cut: a copy of the files as they are, less what was never synced.
            const copy = join(root, `cut-${i}`);
            cpSync(live, copy, { recursive: true });
            lost += loseAfter(copy, checkpoint(copy));
            const back = await openSegmentLog(copy, { segmentBytes: 2048, journalBytes });
            for (const [s, n] of expected) {
              const got = await back.read(s, 0n, all);
              assert.deepEqual(positions(got), range(0, n), `${journalBytes}, after append ${i}: shard ${s.streamId}/${s.shardIndex}`);
              if (n > 0) assert.deepEqual(Buffer.from(got.at(-1)!.data), Buffer.alloc(got.at(-1)!.data.length, (n - 1) & 0xff));
            }
            await back.close();
          }
        }
        await log.close();
        assert.ok(lost > 0, `the cuts took ${lost} bytes away`);
      });
    }
  });

  it('replays from the checkpoint before when the last one was torn in the commit file', async () => {
    await withDirs(async (root) => {
      const live = join(root, 'live');
      const log = await openSegmentLog(live, { journalBytes: 2000 });
      for (let i = 0; i < 30; i++) await log.append([...entries(S0, i * 3, 3), ...entries(T0, i * 2, 2)]);
      const copy = join(root, 'cut');
      cpSync(live, copy, { recursive: true });
      await log.close();
      const commit = readFileSync(join(copy, 'commit'));
      const slots = [0, COMMIT_SLOT_STRIDE].map((at) => Number(commit.readBigUInt64LE(at + 4)));
      const newest = slots[0]! > slots[1]! ? 0 : 1;
      const older = slots[1 - newest]!;
      assert.ok(older > 0 && older < slots[newest]!, `two checkpoints: ${slots}`);
      // The newest slot torn as the cut hit its write; the segments keep only what the older one covered.
      const fd = openSync(join(copy, 'commit'), 'r+');
      writeSync(fd, Buffer.alloc(16, 0x5a), 0, 16, newest * COMMIT_SLOT_STRIDE);
      closeSync(fd);
      loseAfter(copy, older);
      const back = await openSegmentLog(copy, { journalBytes: 2000 });
      assert.deepEqual(positions(await back.read(S0, 0n, all)), range(0, 90));
      assert.deepEqual(positions(await back.read(T0, 0n, all)), range(0, 60));
      await back.append(entries(S0, 90, 1));
      await back.close();
    });
  });

  it('never brings back what a trim deleted, even when the cut also took the unsynced trim file', async () => {
    await withDirs(async (root) => {
      const live = join(root, 'live');
      const log = await openSegmentLog(live, { segmentBytes: 1024 });
      for (let i = 0; i < 100; i += 10) await log.append(entries(S0, i, 10));
      await log.trim(S0, 55n);
      await log.append(entries(S0, 100, 5));
      const copy = join(root, 'cut');
      cpSync(live, copy, { recursive: true });
      await log.close();
      const dir = join(copy, '1', '0');
      // The trim file is written without a sync (a trim repeats): the cut may take it too.
      rmSync(join(dir, 'trim'));
      loseAfter(copy, checkpoint(copy));
      const first = Math.min(...readdirSync(dir).filter((n) => n.endsWith('.seg')).map((n) => Number(n.slice(0, 20))));
      assert.ok(first > 0 && first <= 55, `the trim deleted the segments before ${first}`);
      const back = await openSegmentLog(copy, { segmentBytes: 1024 });
      // Records the trim hid but did not delete may come back (log-store.ts, "Trims"); deleted ones never.
      assert.deepEqual(positions(await back.read(S0, 0n, all)), range(first, 105 - first));
      await back.close();
    });
  });

  it('drops a round whose journal record was torn, in every shard, and goes on from there', async () => {
    await withDirs(async (root) => {
      const live = join(root, 'live');
      const log = await openSegmentLog(live);
      await log.append([...entries(S0, 0, 5), ...entries(S1, 0, 5)]);
      await log.append([...entries(S0, 5, 5), ...entries(S1, 5, 5)]);
      const copy = join(root, 'cut');
      cpSync(live, copy, { recursive: true });
      await log.close();
      // The last record's write torn, and S1's part of that round lost from its segment: the
      // round was never acknowledged, so it must go from S0 too.
      const journal = join(copy, 'journal-0');
      const j = readFileSync(journal);
      const recs = readJournal(j);
      assert.equal(recs.length, 2);
      writeFileSync(journal, j.subarray(0, j.length - 20));
      const s1 = join(copy, '1', '1', readdirSync(join(copy, '1', '1')).find((n) => n.endsWith('.seg'))!);
      const fd = openSync(s1, 'r+');
      // (The part of the round that created the segment starts with its header.)
      ftruncateSync(fd, recs[0]!.parts[1]!.data.length);
      closeSync(fd);
      let back = await openSegmentLog(copy);
      assert.deepEqual(positions(await back.read(S0, 0n, all)), range(0, 5));
      assert.deepEqual(positions(await back.read(S1, 0n, all)), range(0, 5));
      await back.append([...entries(S0, 5, 2), ...entries(S1, 5, 2)]);
      await back.close();
      back = await openSegmentLog(copy);
      assert.deepEqual(positions(await back.read(S0, 0n, all)), range(0, 7));
      assert.deepEqual(positions(await back.read(S1, 0n, all)), range(0, 7));
      await back.close();
    });
  });
});
