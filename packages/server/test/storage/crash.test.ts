import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openLocalStorage } from '../../src/storage/local/index.js';
import type { Storage, StoredRecord } from '../../src/storage/types.js';
import { CRASH_SHARDS, CRASH_STREAM_ID, HEADER_BYTES, crashRecordData } from './crash-writer.js';

const WRITER = fileURLToPath(new URL('./crash-writer.js', import.meta.url));
const ROUNDS = 5;

interface RoundResult {
  /** "shard:position" of every append the child acknowledged before it died. */
  readonly acked: string[];
  readonly killDelayMs: number;
}

/** Runs the writer on dir, lets it acknowledge some appends, then SIGKILLs it at a random moment. */
function runAndKill(dir: string, round: number): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killDelayMs = Math.floor(Math.random() * 250);
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!armed && out.includes('\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), killDelayMs);
      }
    });
    child.stderr.on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer exited on its own (code ${code}, signal ${signal}): ${err}`));
        return;
      }
      // Only complete lines are acknowledgements; a line cut by the kill was never fully printed.
      const lines = out.split('\n').slice(0, -1);
      const acked = lines.flatMap((l) => l.split(' ').slice(2));
      resolve({ acked, killDelayMs });
    });
  });
}

/** Reads every record of every crash shard and checks each one; returns them per shard. */
async function verifyStore(s: Storage, acked: ReadonlySet<string>, context: string): Promise<number> {
  const appends = new Map<string, { count: number; seen: number }>();
  const present = new Set<string>();
  let total = 0;
  for (let shard = 0; shard < CRASH_SHARDS; shard++) {
    const ref = { streamId: CRASH_STREAM_ID, shardIndex: shard };
    const records: StoredRecord[] = [];
    for (let from = 0n; ; ) {
      const batch = await s.log.read(ref, from, { maxRecords: 5000, maxBytes: Infinity });
      if (batch.length === 0) break;
      records.push(...batch);
      from = batch[batch.length - 1]!.position + 1n;
    }
    // Positions were handed out 0, 1, 2, ... and commits happen in order, so what survived is a
    // gap-free prefix: a hole would be a lost record, a repeat a duplicate.
    records.forEach((r, i) => assert.equal(r.position, BigInt(i), `${context}: shard ${shard} position ${i}`));
    const last = await s.log.lastPosition(ref);
    assert.equal(last, records.length === 0 ? undefined : BigInt(records.length - 1), `${context}: lastPosition of shard ${shard}`);
    for (const r of records) {
      const d = Buffer.from(r.data);
      assert.ok(d.length >= HEADER_BYTES, `${context}: short record ${shard}:${r.position}`);
      const round = d.readUInt32BE(0);
      const seq = d.readUInt32BE(4);
      const count = d.readUInt16BE(8);
      assert.equal(d.readUInt16BE(10), shard, `${context}: record ${shard}:${r.position} names another shard`);
      assert.equal(d.readBigUInt64BE(12), r.position, `${context}: record ${shard}:${r.position} names another position`);
      const fill = d.readUInt32BE(20);
      assert.ok(d.equals(crashRecordData(round, seq, count, shard, r.position, fill)), `${context}: bytes of ${shard}:${r.position}`);
      assert.equal(r.partitionKey, `pk-${shard}-${r.position}`);
      assert.equal(r.keyId, round);
      const id = `${round}/${seq}`;
      const a = appends.get(id) ?? { count, seen: 0 };
      a.seen++;
      appends.set(id, a);
      present.add(`${shard}:${r.position}`);
      total++;
    }
  }
  for (const [id, a] of appends) assert.equal(a.seen, a.count, `${context}: append ${id} is partial (${a.seen} of ${a.count} records)`);
  for (const k of acked) assert.ok(present.has(k), `${context}: acknowledged record ${k} is missing`);
  return total;
}

describe('local storage under kill -9', () => {
  it(`keeps every acknowledged append, whole and once, over ${ROUNDS} kills`, { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eddy-crash-'));
    const acked = new Set<string>();
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const r = await runAndKill(dir, round);
        assert.ok(r.acked.length > 0);
        for (const k of r.acked) {
          assert.ok(!acked.has(k), `round ${round}: ${k} acknowledged twice`);
          acked.add(k);
        }
        const s = await openLocalStorage({ dataDir: dir });
        try {
          const total = await verifyStore(s, acked, `round ${round} (killed ${r.killDelayMs} ms after the first ack)`);
          assert.ok(total >= acked.size);
        } finally {
          await s.close();
        }
      }
      // After all that the store still takes writes where it left off.
      const s = await openLocalStorage({ dataDir: dir });
      try {
        const ref = { streamId: CRASH_STREAM_ID, shardIndex: 0 };
        const next = ((await s.log.lastPosition(ref)) ?? -1n) + 1n;
        await s.log.append([{ shard: ref, record: { position: next, arrivalMs: Date.now(), partitionKey: 'after', data: Buffer.from('ok'), keyId: 0 } }]);
        assert.equal(await s.log.lastPosition(ref), next);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
