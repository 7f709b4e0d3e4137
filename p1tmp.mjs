import { open } from 'lmdb';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
const [mode, N0, variant] = process.argv.slice(2);
const N = Number(N0 ?? 1e6);
const dir = mkdtempSync(os.tmpdir() + '/p1-');
const opts = { path: dir, maxDbs: 4, overlappingSync: false };
if (mode.includes('nra')) opts.noReadAhead = true;
if (mode.includes('remap')) opts.remapChunks = true;
if (mode.includes('ovl')) opts.overlappingSync = true;
console.log("baseline", rss());
const root = open(opts);
const db = root.openDB({ name: 'log', encoding: 'binary', keyEncoding: 'binary' });
function key(s, p) { const b = Buffer.allocUnsafe(16); b.writeUInt32BE(1,0); b.writeUInt32BE(s,4); b.writeBigUInt64BE(BigInt(p),8); return b; }
const pos = [0,0,0,0];
function rss() { const t = readFileSync('/proc/self/status','utf8'); const g = k => Number(t.match(new RegExp(k+':\\s+(\\d+)'))[1])/1024; return `rss=${g('VmRSS').toFixed(0)} anon=${g('RssAnon').toFixed(0)} file=${g('RssFile').toFixed(0)} MiB`; }
async function appendBatch(s) {
  const vals = Buffer.allocUnsafeSlow(500*113);
  const p = db.batch(() => {
    for (let i=0;i<500;i++) { const v = vals.subarray(i*113,(i+1)*113); db.put(key(s, pos[s]++), v); }
  });
  if (mode.includes('ovl')) { await p; await db.flushed; } else await p;
}
async function appendTxn(s) {
  await db.transaction(() => { for (let i=0;i<500;i++) db.putSync(key(s,pos[s]++), Buffer.allocUnsafe(113)); });
}
const fn = variant === 'txn' ? appendTxn : appendBatch;
let written = 0; const t0 = performance.now(); let commits=0;
async function writer(s) { while (written < N) { written += 500; await fn(s); } }
await Promise.all([0,1,2,3].map(writer));
const dt = (performance.now()-t0)/1000;
console.log(mode, variant, `N=${written} ${(written/dt).toFixed(0)} rec/s`, rss());
// read
const t1 = performance.now(); let n=0;
for (const {key:k, value} of db.getRange({ start: key(0,0), end: key(1,0) })) { n++; }
const dr = (performance.now()-t1)/1000;
console.log(`read ${n} ${(n/dr).toFixed(0)} rec/s`, rss());
const { statSync } = await import("node:fs"); console.log("file MiB", (statSync(dir + "/data.mdb").size/1048576).toFixed(0));
await root.close();
rmSync(dir, { recursive: true });
