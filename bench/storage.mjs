// Micro-benchmark of the local log store (segment files; local/log-store.ts), on the compiled code
// (run `npx tsc -b packages/server` first).
//
//   node bench/storage.mjs [N=1000000] [--seconds=5]
//
// 1. append: 4 concurrent writers, one shard each, appends of 500 × 100-byte records, for --seconds;
//    records/s and MiB/s of payload, and appends per group commit (the store's own counters: a
//    round writes and fdatasyncs every segment file it touched, in parallel).
// 2. read: one shard from the start, in reads of 1,000 (cold: JIT warm-up), then 10,000 and 1,000
//    records again; then reads at the tail (put-to-get: the newest records, from the tail cache).
// 3. positionAtTime on that shard.
// 4. memory: keeps appending until the store holds N records, sampling RSS (total, anon, file from
//    /proc/self/status) as it grows; then reads a whole shard and samples again.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalStorage } from '../packages/server/dist/src/storage/local/index.js';

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}`));
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000);
const SECONDS = Number(flag('seconds')?.split('=')[1] ?? 5);
const WRITERS = 4;
const BATCH = 500;
const RECORD_BYTES = 100;
const STREAM = 1;

const mib = (b) => (b / 1048576).toFixed(1);
function memory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN) * 1024;
  const m = process.memoryUsage();
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), heap: m.heapUsed, external: m.external };
}
/** Bytes of every file under a directory. */
function duBytes(path) {
  let n = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    n += e.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return n;
}
const fmtMem = (m) =>
  `RSS ${mib(m.rss)} MiB (anon ${mib(m.anon)}, file ${mib(m.file)}), JS heap ${mib(m.heap)} MiB, external ${mib(m.external)} MiB`;

const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-storage-'));
const storage = await openLocalStorage({ dataDir: dir });
const next = Array.from({ length: WRITERS }, () => 0n);
const payload = Buffer.alloc(RECORD_BYTES, 0x61);

function batchFor(shard) {
  const entries = new Array(BATCH);
  const arrivalMs = Date.now();
  for (let i = 0; i < BATCH; i++) {
    entries[i] = {
      shard: { streamId: STREAM, shardIndex: shard },
      record: { position: next[shard]++, arrivalMs, partitionKey: `pk-${i}`, data: payload, keyId: 0 },
    };
  }
  return entries;
}

/** Times positionAtTime at evenly spread instants over the shard's whole time span. */
async function timeLookups(shard) {
  const first = (await storage.log.read(shard, 0n, { maxRecords: 1, maxBytes: Infinity }))[0].arrivalMs;
  const last = Date.now();
  const lookups = 2000;
  const t0 = performance.now();
  for (let i = 0; i < lookups; i++) await storage.log.positionAtTime(shard, first + Math.floor(((last - first) * i) / lookups));
  const dt = performance.now() - t0;
  console.log(`positionAtTime over ${next[shard.shardIndex]} records: ${((dt * 1000) / lookups).toFixed(1)} µs per lookup`);
}

let written = 0;
let peak = memory();
async function writeUntil(stop) {
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, shard) => {
      while (!stop()) {
        await storage.log.append(batchFor(shard));
        written += BATCH;
        if (written % 100_000 === 0) {
          const m = memory();
          if (m.rss > peak.rss) peak = m;
        }
      }
    }),
  );
}

try {
  console.log(`data dir ${dir}; before: ${fmtMem(memory())}`);

  // 1. append rate
  let t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  await writeUntil(() => performance.now() >= until);
  const appends = written / BATCH;
  let dt = (performance.now() - t0) / 1000;
  console.log(
    `append: ${written} records in ${dt.toFixed(2)} s = ${Math.round(written / dt)} records/s, ` +
      `${mib((written * RECORD_BYTES) / dt)} MiB/s payload (${appends} appends of ${BATCH}; ` +
      `${(storage.log.stats.appends / storage.log.stats.rounds).toFixed(2)} appends per group commit)`,
  );
  {
    // 2. read rate, one shard from the start
    const shard0 = { streamId: STREAM, shardIndex: 0 };
    for (const maxRecords of [1_000, 10_000, 1_000]) {
      t0 = performance.now();
      let n = 0;
      let bytes = 0;
      for (let from = 0n; ; ) {
        const recs = await storage.log.read(shard0, from, { maxRecords, maxBytes: Infinity });
        if (recs.length === 0) break;
        n += recs.length;
        for (const r of recs) bytes += r.data.length;
        from = recs[recs.length - 1].position + 1n;
      }
      dt = (performance.now() - t0) / 1000;
      console.log(`read (${maxRecords} per call): ${n} records in ${dt.toFixed(2)} s = ${Math.round(n / dt)} records/s, ${mib(bytes / dt)} MiB/s payload`);
    }

    // Tail reads: the newest 100 records of a shard, as a consumer that keeps up would ask.
    {
      const last = await storage.log.lastPosition(shard0);
      const reads = 20_000;
      t0 = performance.now();
      let n = 0;
      for (let i = 0; i < reads; i++) n += (await storage.log.read(shard0, last - 99n, { maxRecords: 100, maxBytes: Infinity })).length;
      dt = (performance.now() - t0) / 1000;
      console.log(`tail read (newest 100 records): ${((dt * 1e6) / reads).toFixed(1)} µs per read, ${Math.round(n / dt)} records/s`);
    }

    // 3. positionAtTime on the same shard
    await timeLookups(shard0);

    // 4. memory while growing to N records
    if (written < N) {
      t0 = performance.now();
      const had = written;
      await writeUntil(() => written >= N);
      dt = (performance.now() - t0) / 1000;
      console.log(`grew to ${written} records (${Math.round((written - had) / dt)} records/s while growing)`);
    }
    global.gc?.();
    console.log(`after ${written} records (log files ${mib(duBytes(join(dir, 'log')))} MiB): ${fmtMem(memory())}`);
    console.log(`peak sampled while growing: ${fmtMem(peak)}`);
    t0 = performance.now();
    let n = 0;
    for (let from = 0n; ; ) {
      const recs = await storage.log.read(shard0, from, { maxRecords: 10_000, maxBytes: Infinity });
      if (recs.length === 0) break;
      n += recs.length;
      from = recs[recs.length - 1].position + 1n;
    }
    dt = (performance.now() - t0) / 1000;
    console.log(`after reading shard 0 (${n} records, ${Math.round(n / dt)} records/s): ${fmtMem(memory())}`);
    await timeLookups(shard0);
  }
} finally {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}

