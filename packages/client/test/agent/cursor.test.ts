// The cursor's acknowledged offset and ranges: what a checkpoint holds when records complete out
// of order, and what a cursor restored from it skips.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CheckpointStore } from '../../src/agent/checkpoints.js';
import { Cursor, type WindowEntry } from '../../src/agent/cursor.js';

const options = { maxRecordBytes: 1024 };
// Ten lines of 4 bytes: line i is [4i, 4i + 4).
const text = Buffer.from(Array.from({ length: 10 }, (_, i) => `l${i}${i}\n`).join(''));

describe('cursor', () => {
  test('checkpoints acknowledged runs past the first record still waiting', () => {
    const c = new Cursor(options, 0, 0, Buffer.alloc(0));
    const pieces = c.reader.push(text);
    const entries: WindowEntry[] = pieces.map((p) => c.track(p, 4));
    const ack = (...is: number[]) => {
      for (const i of is) c.ack(entries[i] as WindowEntry, 4);
    };
    ack(1, 2, 5, 9);
    assert.equal(c.ackedOffset, 0);
    assert.deepEqual(c.ackedRanges(), [4, 12, 20, 24, 36, 40]);
    ack(0);
    assert.equal(c.ackedOffset, 12);
    assert.deepEqual(c.ackedRanges(), [20, 24, 36, 40]);
    ack(3, 4, 6, 7, 8);
    assert.equal(c.ackedOffset, 40);
    assert.deepEqual(c.ackedRanges(), []);
  });

  test('a cursor restored from ranges skips what they hold and keeps the rest of them until read', () => {
    const c = new Cursor(options, 4, 0, Buffer.alloc(0), [12, 20, 28, 36]);
    // Nothing read yet: the restored ranges are still owed to the next checkpoint.
    assert.deepEqual(c.ackedRanges(), [12, 20, 28, 36]);
    const pieces = c.reader.push(text.subarray(4, 24));
    // Asked once per piece, in file order, as the flow does.
    const skipped = pieces.map((p) => {
      const done = c.alreadyAcked(p);
      if (done) c.skip(p);
      else c.track(p, 4);
      return done;
    });
    assert.deepEqual(skipped, [false, false, true, true, false]);
    assert.equal(c.ackedOffset, 4);
    assert.deepEqual(c.ackedRanges(), [12, 20, 28, 36]);
    // A line cut differently from the range (a configuration change) is sent, not skipped.
    const odd = new Cursor(options, 0, 0, Buffer.alloc(0), [2, 6]);
    assert.equal(odd.alreadyAcked(odd.reader.push(text.subarray(0, 4))[0]!), false);
  });

  test('the checkpoint file keeps ranges and refuses malformed ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eddy-cursor-'));
    try {
      const store = new CheckpointStore(join(dir, 'cp.json'));
      const entry = { path: '/x', dev: '1', ino: '2', headLength: 0, headHash: 'h', offset: 4, anchorLength: 0, anchorHash: 'a', seenAt: 1 };
      await store.save({ flows: { f: [{ ...entry, acked: [8, 12, 16, 20] }] } });
      assert.deepEqual((await store.load()).flows['f']?.[0]?.acked, [8, 12, 16, 20]);
      for (const acked of [[8], [2, 6], [8, 8], [8, 12, 12, 16], [12, 8], ['8', '12']]) {
        await writeFile(store.path, JSON.stringify({ version: 1, flows: { f: [{ ...entry, acked }] } }));
        await assert.rejects(store.load(), { code: 'EDDY_AGENT_CHECKPOINT' }, JSON.stringify(acked));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
