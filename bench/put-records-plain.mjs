#!/usr/bin/env node
// PutRecords throughput and server CPU per record with plain HTTP/1.1 clients: prebuilt JSON
// bodies (500 x 100-byte records, 4 shards), keep-alive connections, no SDK. What the server can
// take when its clients cost next to nothing; bench/kinesis.mjs measures it through the SDK.
// Starts its own `eddy serve` (disk storage, fsync'd, throttling off) as a child process.
//
//   node bench/put-records-plain.mjs [--seconds 5] [--connections 4]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { plainKinesis, putRecordsBodies } from './plain-http.mjs';
import { npmStartFlags } from './npm-start-flags.mjs';
import { cpuSeconds } from './proc.mjs';

const { values: o } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '4' } } });
const seconds = Number(o.seconds);
const connections = Number(o.connections);
const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-plain-'));
const main = fileURLToPath(new URL('../packages/server/dist/src/cli/main.js', import.meta.url));
// With Node's flags as `npm start` gives them.
const child = spawn(process.execPath, [...npmStartFlags, main, 'serve', '--port', '0', '--data-dir', dir, '--no-throttle', '--state-delay-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  child.on('exit', (c) => reject(new Error(`eddy exited ${c}`)));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const call = plainKinesis('127.0.0.1', port, agent);

await call('CreateStream', Buffer.from(JSON.stringify({ StreamName: 'plain', ShardCount: 4 })));
await new Promise((r) => setTimeout(r, 300));
const bodies = putRecordsBodies('plain');
async function run(ms) {
  const end = Date.now() + ms;
  let records = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let k = c; Date.now() < end; k++) {
        await call('PutRecords', bodies[k % bodies.length]);
        records += 500;
      }
    }),
  );
  return records;
}

await run(1000); // warm-up
const cpu0 = cpuSeconds(child.pid);
const t0 = Date.now();
const records = await run(seconds * 1000);
const elapsed = (Date.now() - t0) / 1000;
const cpu = cpuSeconds(child.pid) - cpu0;
console.log(JSON.stringify({ recordsPerSec: Math.round(records / elapsed), serverCpuMicrosPerRecord: +((cpu / records) * 1e6).toFixed(2), serverCpuPercent: Math.round((cpu / elapsed) * 100) }));
agent.destroy();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
