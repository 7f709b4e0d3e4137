#!/usr/bin/env node
// CPU per PutRecords record of the server's request path, in one process: Eddy (startEddy, disk
// storage with fsync, throttling off) and a plain HTTP/1.1 client sending prebuilt bodies of 500 x
// 100-byte records over 4 connections to a 4-shard stream. Reports the lowest process CPU per
// record over 7 chunks of 50,000 records: the client's share is small and constant, and the
// minimum filters out what other jobs on the machine add, so two builds can be compared A/B:
//
//   node bench/put-records-cpu.mjs [repository root, default .]
//   node bench/put-records-cpu.mjs /path/to/other/checkout     (built with npx tsc -b packages/server)
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { plainKinesis, putRecordsBodies } from './plain-http.mjs';

const root = process.argv[2] ?? '.';
const { startEddy } = await import(pathToFileURL(resolve(root, 'packages/server/dist/src/server.js')).href);
const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-cpu-'));
const eddy = await startEddy({ port: 0, host: '127.0.0.1', dataDir: dir, throttle: false, stateDelayMs: 0, log: () => undefined });
const port = Number(new URL(eddy.endpoint).port);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const call = plainKinesis('127.0.0.1', port, agent);

await call('CreateStream', Buffer.from(JSON.stringify({ StreamName: 'cpu', ShardCount: 4 })));
await new Promise((r) => setTimeout(r, 300));
const bodies = putRecordsBodies('cpu');
async function run(requests) {
  let k = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (k < requests) await call('PutRecords', bodies[k++ % bodies.length]);
  }));
  return requests * 500;
}

await run(200); // warm-up
let best = Infinity;
for (let c = 0; c < 7; c++) {
  const c0 = process.cpuUsage();
  const records = await run(100);
  const u = process.cpuUsage(c0);
  best = Math.min(best, (u.user + u.system) / records);
}
console.log(`${root}: process CPU per PutRecords record, server + plain client (lowest of 7 x 50,000): ${best.toFixed(2)} µs`);
await eddy.close();
agent.destroy();
rmSync(dir, { recursive: true, force: true });
