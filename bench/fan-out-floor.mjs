#!/usr/bin/env node
// The floor under bench/fan-out.mjs: the same data path and threads with nothing of Eddy in it.
// A server thread takes each record as an HTTP/2 POST (node:http2), appends it to a file and
// fdatasyncs it (--no-sync: not), answers, and writes its first 16 bytes as one DATA frame to each
// consumer's long-lived response stream for the record's shard; a producer thread sends the
// records at a steady rate (one request each, raw node:http2, as fan-out.mjs's default producer);
// the consumers (one HTTP/2 session each, one stream per shard) run on the main thread and take
// the time each record arrives. No JSON, no event-stream framing, no SDK, no record store: what
// this measures is what Node's HTTP/2, one fdatasync per record and the thread hand-offs cost on
// this machine, which no server written for Node can go below with this traffic.
//
// --zeroed writes the file full of zeros (and syncs it) before the run, so that each record
// overwrites allocated blocks inside the file's size: an fdatasync then has only data to flush,
// no file-size or extent change for ext4's journal to commit first.
//
//   node bench/fan-out-floor.mjs [--rate 1000] [--seconds 8] [--shards 4] [--consumers 4] [--no-sync] [--zeroed]
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { threadCpuSeconds } from './proc.mjs';

const here = fileURLToPath(import.meta.url);
/** Epoch ms with sub-millisecond resolution, comparable across this process's threads. */
const now = () => performance.timeOrigin + performance.now();
const RECORD_BYTES = 140; // a 100-byte record's PutRecord body is about this long

if (isMainThread) await main();
else if (workerData.role === 'server') serverThread(workerData);
else await producerThread(workerData);

async function main() {
  const { values: o } = parseArgs({
    options: {
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '8' },
      shards: { type: 'string', default: '4' },
      consumers: { type: 'string', default: '4' },
      'no-sync': { type: 'boolean', default: false },
      zeroed: { type: 'boolean', default: false },
    },
  });
  const rate = Number(o.rate);
  const seconds = Number(o.seconds);
  const shards = Number(o.shards);
  const consumers = Number(o.consumers);
  const warmup = rate; // the first second's records are left out
  const dir = mkdtempSync(join(tmpdir(), 'eddy-fan-out-floor-'));
  const server = new Worker(here, { workerData: { role: 'server', dir, shards, sync: !o['no-sync'], warmup, zeroBytes: o.zeroed ? rate * (seconds + 1) * RECORD_BYTES : 0 } });
  const port = await new Promise((resolve) => server.once('message', resolve));

  const latencies = [];
  const sessions = [];
  let open = 0;
  for (let c = 0; c < consumers; c++) {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    sessions.push(s);
    for (let shard = 0; shard < shards; shard++) {
      const sub = s.request({ ':method': 'POST', ':path': `/subscribe/${shard}` });
      sub.end();
      sub.on('response', () => open++);
      sub.on('data', (d) => {
        const t = now();
        for (let i = 0; i + 16 <= d.length; i += 16) if (d.readUInt32BE(i) >= warmup) latencies.push(t - d.readDoubleBE(i + 4));
      });
    }
  }
  for (let i = 0; i < 500 && open < consumers * shards; i++) await new Promise((r) => setTimeout(r, 10));

  const producer = new Worker(here, { workerData: { role: 'producer', port, rate, total: rate * (seconds + 1) } });
  await new Promise((resolve) => producer.once('message', resolve));
  await new Promise((r) => setTimeout(r, 500)); // the last pushes
  const stats = await new Promise((resolve) => {
    server.once('message', resolve);
    server.postMessage('stats');
  });
  for (const s of sessions) s.destroy();
  await server.terminate();
  rmSync(dir, { recursive: true, force: true });

  const expected = rate * seconds * consumers;
  const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
  latencies.sort((a, b) => a - b);
  console.log(
    `fan-out floor: ${consumers} consumers x ${shards} shards, ${rate} records/s for ${seconds} s (+1 s warm-up), ` +
      `${o['no-sync'] ? 'no fdatasync' : 'one fdatasync per record'}${o.zeroed ? ', into a zero-filled file' : ''}; Node ${process.version}`,
  );
  console.log(
    `put-to-push  n=${latencies.length} of ${expected}  p50 ${pct(latencies, 0.5).toFixed(2)} ms  p90 ${pct(latencies, 0.9).toFixed(2)} ms  ` +
      `p99 ${pct(latencies, 0.99).toFixed(2)} ms  max ${latencies[latencies.length - 1].toFixed(2)} ms`,
  );
  if (stats.syncs.length > 0) {
    const s = stats.syncs.sort((a, b) => a - b);
    console.log(`fdatasync    p50 ${pct(s, 0.5).toFixed(3)} ms  p90 ${pct(s, 0.9).toFixed(3)} ms  p99 ${pct(s, 0.99).toFixed(3)} ms  max ${s[s.length - 1].toFixed(2)} ms`);
  }
  if (stats.cpuMicrosPerRecord !== undefined) console.log(`server thread CPU per record: ${stats.cpuMicrosPerRecord.toFixed(0)} µs`);
  if (latencies.length < expected) process.exitCode = 1;
}

function serverThread({ dir, shards, sync, warmup, zeroBytes }) {
  const subscribers = Array.from({ length: shards }, () => []);
  const fd = openSync(join(dir, 'log'), 'w');
  if (zeroBytes > 0) {
    const zeros = Buffer.alloc(1 << 20);
    for (let at = 0; at < zeroBytes; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
    fsyncSync(fd);
  }
  let offset = 0;
  const syncs = [];
  let cpu0;
  let records = 0;
  const server = http2.createServer((req, res) => {
    if (req.url.startsWith('/subscribe/')) {
      res.writeHead(200);
      res.write(Buffer.alloc(0));
      subscribers[Number(req.url.slice('/subscribe/'.length))].push(res);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      writeSync(fd, body, 0, body.length, offset);
      offset += body.length;
      if (sync) {
        const t = performance.now();
        fdatasyncSync(fd);
        syncs.push(performance.now() - t);
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end('{"SequenceNumber":"49650000000000000000000000000000000000000000000000000000","ShardId":"shardId-000000000000"}');
      const id = body.readUInt32BE(0);
      if (id === warmup) cpu0 = threadCpuSeconds();
      if (id >= warmup) records++;
      for (const s of subscribers[id % shards]) s.write(body.subarray(0, 16));
    });
  });
  server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
  parentPort.on('message', () => {
    const cpu = threadCpuSeconds();
    parentPort.postMessage({ syncs, cpuMicrosPerRecord: cpu !== undefined && cpu0 !== undefined && records > 0 ? ((cpu - cpu0) * 1e6) / records : undefined });
    closeSync(fd);
  });
}

async function producerThread({ port, rate, total }) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  let sent = 0;
  let acked = 0;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        const body = Buffer.alloc(RECORD_BYTES, 0x61);
        body.writeUInt32BE(sent++, 0);
        body.writeDoubleBE(now(), 4);
        const req = session.request({ ':method': 'POST', ':path': '/' });
        req.end(body);
        req.on('data', () => undefined);
        req.on('end', () => acked++);
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  for (let i = 0; i < 1000 && acked < total; i++) await new Promise((r) => setTimeout(r, 5));
  session.close();
  parentPort.postMessage('done');
}
