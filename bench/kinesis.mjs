#!/usr/bin/env node
// Data Streams benchmark: write throughput (PutRecords through the AWS SDK, HTTP/1.1 and its
// default HTTP/2), read throughput (GetRecords), put-to-get latency (GetRecords polling), server
// CPU per record and RSS. Starts its own `eddy serve` (disk storage, fsync'd, throttling off) as a
// child process so that server CPU and memory can be read from /proc, or measures a running one
// with --endpoint (then no CPU/RSS figures unless --pid is given).
//
//   node bench/kinesis.mjs [--seconds 10] [--producers 4] [--shards 4] [--batch 500] [--size 100]
//                          [--endpoint URL --pid PID] [--rss-records 10000000] [--workers]
//                          [--quiet-sdk-logger] [--server-nice=-10]
//
// Write throughput is measured from the moment every producer is ready (SDK loaded, client made,
// 20 PutRecords calls made to warm up) to the deadline; --workers puts each producer in a worker
// thread of its own, as four processes sending at once would be.
//
// --server-nice gives the spawned `eddy serve` that scheduling priority (negative needs root): on
// two vCPUs the server otherwise competes on equal terms with four producer threads, where a
// server of its own would have its CPU to itself.
//
// --quiet-sdk-logger gives the SDK clients a logger without an `info` method. With its default
// (a no-op logger that has one), the SDK runs its sensitive-data log filter over every input and
// output anyway, walking all 500 records of each PutRecords call both ways: about a third of the
// client's CPU here. Any application can pass such a logger; the figures are reported both ways.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import http from 'node:http';
import { plainKinesis } from './plain-http.mjs';
import { npmStartFlags } from './npm-start-flags.mjs';
import { cpuSeconds, machineCpu, machineShare, rssMiB } from './proc.mjs';

const here = fileURLToPath(import.meta.url);
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
/** --server-nice: the scheduling priority given to the spawned server. */
let serverNice = 0;

const QUIET_LOGGER = { debug() {}, warn() {}, error() {} };

function client(endpoint, transport) {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    ...(process.env.EDDY_BENCH_QUIET_SDK_LOGGER === '1' ? { logger: QUIET_LOGGER } : {}),
    ...(transport === 'http1' ? { requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }) }) } : {}),
  });
}

/**
 * One producer: PutRecords of `batch` records of `size` bytes. It warms up first (the SDK's first
 * calls build its middleware and JIT its code), then resolves to `go(deadline)`, which sends in a
 * loop until the deadline: the measured window holds only steady sending, not the second or so
 * that four worker threads spend loading the SDK side by side.
 */
async function producer({ endpoint, transport, streamName, batch, size, id }) {
  const k = client(endpoint, transport);
  const data = Buffer.alloc(size, 97 + (id % 26));
  let n = 0;
  const send = () => {
    const Records = [];
    for (let i = 0; i < batch; i++) Records.push({ Data: data, PartitionKey: `p${id}-${n++}` });
    return k.send(new PutRecordsCommand({ StreamName: streamName, Records }));
  };
  for (let i = 0; i < WARMUP_CALLS; i++) await send();
  return async (deadline) => {
    let records = 0;
    let failed = 0;
    while (Date.now() < deadline) {
      const r = await send();
      records += batch - (r.FailedRecordCount ?? 0);
      failed += r.FailedRecordCount ?? 0;
    }
    k.destroy();
    return { records, failed };
  };
}

/** PutRecords calls each producer makes before the measured window. */
const WARMUP_CALLS = 20;

if (!isMainThread) {
  const go = await producer(workerData);
  parentPort.postMessage('ready');
  parentPort.once('message', async (deadline) => parentPort.postMessage(await go(deadline)));
} else {
  await main();
}

/** Put one record, poll one shard: through the SDK's HTTP/1.1 handler. */
function sdkCalls(endpoint) {
  const w = client(endpoint, 'http1');
  const rd = client(endpoint, 'http1');
  return {
    iterator: async (name) => (await rd.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' }))).ShardIterator,
    put: (name, id) => w.send(new PutRecordsCommand({ StreamName: name, Records: [{ Data: Buffer.from(id), PartitionKey: 'k' }] })),
    get: async (it) => {
      const r = await rd.send(new GetRecordsCommand({ ShardIterator: it }));
      return { ids: r.Records.map((rec) => Buffer.from(rec.Data).toString()), next: r.NextShardIterator };
    },
    close: () => {
      w.destroy();
      rd.destroy();
    },
  };
}

/** The same calls as plain JSON over keep-alive HTTP/1.1 (bench/plain-http.mjs). */
function plainCalls(endpoint) {
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const kinesis = plainKinesis(url.hostname, url.port, agent);
  const call = (target, body) => kinesis(target, Buffer.from(JSON.stringify(body)));
  return {
    iterator: async (name) => (await call('GetShardIterator', { StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' })).ShardIterator,
    put: (name, id) => call('PutRecords', { StreamName: name, Records: [{ Data: Buffer.from(id).toString('base64'), PartitionKey: 'k' }] }),
    get: async (it) => {
      const r = await call('GetRecords', { ShardIterator: it });
      return { ids: r.Records.map((rec) => Buffer.from(rec.Data, 'base64').toString()), next: r.NextShardIterator };
    },
    close: () => agent.destroy(),
  };
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-'));
  const started = Date.now();
  // With Node's flags as `npm start` gives them.
  const child = spawn(process.execPath, [...npmStartFlags, join(here, '../../packages/server/dist/src/cli/main.js'), 'serve', '--port', '0', '--data-dir', dir, '--no-throttle', '--state-delay-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (serverNice !== 0) os.setPriority(child.pid, serverNice);
  const endpoint = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`eddy exited ${c}`)));
  });
  return { endpoint, pid: child.pid, readyMs: Date.now() - started, stop: () => { child.kill('SIGTERM'); }, dir };
}

async function main() {
  const { values: o } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      producers: { type: 'string', default: '4' },
      shards: { type: 'string', default: '4' },
      batch: { type: 'string', default: '500' },
      size: { type: 'string', default: '100' },
      endpoint: { type: 'string' },
      pid: { type: 'string' },
      'rss-records': { type: 'string', default: '0' },
      workers: { type: 'boolean', default: false },
      only: { type: 'string' },
      'quiet-sdk-logger': { type: 'boolean', default: false },
      'server-nice': { type: 'string', default: '0' },
    },
  });
  serverNice = Number(o['server-nice']);
  // Read by client() in this thread and in the producer threads (they inherit the environment).
  if (o['quiet-sdk-logger']) process.env.EDDY_BENCH_QUIET_SDK_LOGGER = '1';
  const seconds = Number(o.seconds);
  const producers = Number(o.producers);
  const shards = Number(o.shards);
  const batch = Number(o.batch);
  const size = Number(o.size);
  let server;
  let endpoint = o.endpoint;
  let pid = o.pid ? Number(o.pid) : undefined;
  if (!endpoint) {
    server = await startServer();
    endpoint = server.endpoint;
    pid = server.pid;
    console.log(`eddy ready in ${server.readyMs} ms (spawn to listening) at ${endpoint}`);
  }
  const results = {};
  const admin = client(endpoint, 'http1');
  const streamName = `bench-${Date.now()}`;
  await admin.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }));
  for (let i = 0; i < 100; i++) {
    const s = await admin.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    if (s.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }

  for (const transport of ['http1', 'http2']) {
    if (o.only && o.only !== transport && o.only !== 'write') continue;
    const args = (id) => ({ endpoint, transport, streamName, batch, size, id });
    // Every producer ready (SDK loaded, warmed up) before the clock starts.
    const starts = await Promise.all(
      Array.from({ length: producers }, (_, id) => {
        if (!o.workers) return producer(args(id));
        const w = new Worker(here, { workerData: args(id) });
        return new Promise((resolve, reject) => {
          w.once('error', reject);
          w.once('message', () =>
            resolve(
              (deadline) =>
                new Promise((done) => {
                  w.once('message', done);
                  w.postMessage(deadline);
                }),
            ),
          );
        });
      }),
    );
    const cpu0 = pid ? cpuSeconds(pid) : 0;
    const clientCpu0 = cpuSeconds(process.pid);
    const machine0 = machineCpu();
    const t0 = Date.now();
    const deadline = t0 + seconds * 1000;
    const jobs = starts.map((go) => go(deadline));
    const rs = await Promise.all(jobs);
    const elapsed = (Date.now() - t0) / 1000;
    const records = rs.reduce((a, r) => a + r.records, 0);
    const cpu = pid ? cpuSeconds(pid) - cpu0 : NaN;
    const clientCpu = cpuSeconds(process.pid) - clientCpu0;
    const machine = machineShare(machine0, machineCpu());
    results[`write-${transport}`] = {
      recordsPerSec: Math.round(records / elapsed),
      MiBPerSec: +((records * size) / elapsed / 1048576).toFixed(1),
      serverCpuMicrosPerRecord: +((cpu / records) * 1e6).toFixed(2),
      serverCpuPercent: Math.round((cpu / elapsed) * 100),
      // Every thread of this process: the producers (in worker threads or not) and their GC.
      clientCpuMicrosPerRecord: +((clientCpu / records) * 1e6).toFixed(2),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      rssMiB: pid ? rssMiB(pid) : undefined,
      machinePercent: machine,
    };
    console.log(`write ${transport}:`, JSON.stringify(results[`write-${transport}`]));
  }

  if (!o.only || o.only === 'read') {
    const { Shards } = await admin.send(new ListShardsCommand({ StreamName: streamName }));
    const cpu0 = pid ? cpuSeconds(pid) : 0;
    const t0 = Date.now();
    let total = 0;
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Shards.map(async (s) => {
        const k = client(endpoint, 'http1');
        let { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
        while (ShardIterator && Date.now() < deadline) {
          const r = await k.send(new GetRecordsCommand({ ShardIterator, Limit: 10000 }));
          total += r.Records.length;
          if (r.Records.length === 0) break;
          ShardIterator = r.NextShardIterator;
        }
        k.destroy();
      }),
    );
    const elapsed = (Date.now() - t0) / 1000;
    const cpu = pid ? cpuSeconds(pid) - cpu0 : NaN;
    results.read = { recordsPerSec: Math.round(total / elapsed), records: total, serverCpuMicrosPerRecord: +((cpu / total) * 1e6).toFixed(2) };
    console.log('read:', JSON.stringify(results.read));
  }

  if (!o.only || o.only === 'latency') {
    // Put-to-get: one record at a time to one shard; a reader polls GetRecords with no wait.
    // Twice: through the SDK, and through plain keep-alive HTTP/1.1 JSON calls, which leaves out
    // the SDK's own cost per call (about 1.5 ms of CPU here, on the same two vCPUs).
    for (const kind of ['sdk', 'plain']) {
      const name = `${streamName}-lat-${kind}`;
      await admin.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      await new Promise((r) => setTimeout(r, 200));
      const api = kind === 'sdk' ? sdkCalls(endpoint) : plainCalls(endpoint);
      let iterator = await api.iterator(name);
      const sentAt = new Map();
      const lat = [];
      let stop = false;
      const reader = (async () => {
        while (!stop) {
          const r = await api.get(iterator);
          const now = performance.now();
          for (const id of r.ids) {
            const t = sentAt.get(id);
            if (t !== undefined) lat.push(now - t);
          }
          iterator = r.next;
        }
      })();
      const n = Math.min(5000, seconds * 500);
      for (let i = 0; i < n; i++) {
        const id = String(i);
        sentAt.set(id, performance.now());
        await api.put(name, id);
        await new Promise((r) => setTimeout(r, 1));
      }
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await reader;
      api.close();
      lat.sort((a, b) => a - b);
      const key = kind === 'sdk' ? 'putToGet' : 'putToGetPlainHttp';
      results[key] = { samples: lat.length, p50: +pct(lat, 50).toFixed(2), p90: +pct(lat, 90).toFixed(2), p99: +pct(lat, 99).toFixed(2), max: +lat[lat.length - 1].toFixed(2) };
      console.log(`put-to-get latency ms (${kind === 'sdk' ? 'SDK' : 'plain HTTP'}):`, JSON.stringify(results[key]));
    }
  }

  const rssRecords = Number(o['rss-records']);
  if (rssRecords > 0 && pid) {
    // Grow the store to N records and watch the server's RSS.
    const t0 = Date.now();
    let written = 0;
    let maxRss = 0;
    const samples = [];
    const name = `${streamName}-rss`;
    await admin.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    await new Promise((r) => setTimeout(r, 200));
    const ks = Array.from({ length: producers }, () => client(endpoint, 'http1'));
    const data = Buffer.alloc(size, 120);
    await Promise.all(
      ks.map(async (k, id) => {
        let n = 0;
        while (written < rssRecords) {
          const Records = [];
          for (let i = 0; i < batch; i++) Records.push({ Data: data, PartitionKey: `r${id}-${n++}` });
          await k.send(new PutRecordsCommand({ StreamName: name, Records }));
          written += batch;
          if (written % 500_000 < batch) {
            const r = rssMiB(pid);
            maxRss = Math.max(maxRss, r.rss);
            samples.push({ records: written, ...r });
            console.log(`  ${written} records: rss ${r.rss.toFixed(0)} MiB (anon ${r.anon.toFixed(0)}, file ${r.file.toFixed(0)})`);
          }
        }
      }),
    );
    results.rss = { records: written, seconds: (Date.now() - t0) / 1000, maxRssMiB: Math.round(maxRss), final: rssMiB(pid) };
    console.log('rss:', JSON.stringify(results.rss));
  }

  admin.destroy();
  if (server) {
    server.stop();
    await new Promise((r) => setTimeout(r, 300));
    rmSync(server.dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, ...results }, null, 2));
}
