#!/usr/bin/env node
// What @aws-sdk/client-kinesis itself costs per PutRecords record: one client (HTTP/1.1
// keep-alive) sends PutRecords of 500 x 100-byte records to a server in a child process that only
// answers with a canned 500-entry result, so the client's CPU is the SDK's (serializing, signing,
// parsing the answer, its middleware). --quiet-logger gives the client a logger without `info`:
// with the default no-op logger, which has one, the SDK still runs its sensitive-data log filter
// over every input and output. --workers N runs N such clients in worker threads at once (as
// bench/kinesis.mjs's producers do) against the same canned server and reports their total rate:
// the most records per second that many SDK clients can send on this machine when the server
// costs next to nothing.
//
//   node bench/sdk-cost.mjs [--quiet-logger] [--seconds 5] [--workers N]
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { threadCpuSeconds } from './proc.mjs';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

if (process.argv[2] === 'canned-server') {
  const entries = Array.from({ length: 500 }, (_, i) => ({ SequenceNumber: `49${String(i).padStart(54, '0')}`, ShardId: 'shardId-000000000001' }));
  const body = Buffer.from(JSON.stringify({ FailedRecordCount: 0, Records: entries }));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': body.length, 'x-amzn-requestid': 'canned' });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
} else if (isMainThread) {
  const { values: o } = parseArgs({
    options: { 'quiet-logger': { type: 'boolean', default: false }, seconds: { type: 'string', default: '5' }, workers: { type: 'string', default: '0' } },
  });
  const child = fork(fileURLToPath(import.meta.url), ['canned-server']);
  const port = await new Promise((r) => child.once('message', r));
  const workers = Number(o.workers);
  if (workers > 0) {
    const results = await Promise.all(
      Array.from({ length: workers }, () => {
        const w = new Worker(fileURLToPath(import.meta.url), { workerData: { port, o } });
        return new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        });
      }),
    );
    const total = results.reduce((a, r) => a + r.recordsPerSec, 0);
    console.log(
      JSON.stringify({
        logger: o['quiet-logger'] ? 'quiet' : 'default',
        workers,
        recordsPerSec: total,
        clientCpuMicrosPerRecord: +(results.reduce((a, r) => a + r.cpuMicros, 0) / results.reduce((a, r) => a + r.records, 0)).toFixed(2),
      }),
    );
    child.kill();
  } else {
    const r = await measure(port, o);
    console.log(JSON.stringify({ logger: o['quiet-logger'] ? 'quiet' : 'default', recordsPerSec: r.recordsPerSec, clientCpuMicrosPerRecord: +(r.cpuMicros / r.records).toFixed(2) }));
    child.kill();
  }
} else {
  parentPort.postMessage(await measure(workerData.port, workerData.o));
}

/** One SDK client sending PutRecords for o.seconds (after a second of warm-up): records sent, rate, and its thread's CPU time. */
async function measure(port, o) {
  const k = new KinesisClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true }) }),
    ...(o['quiet-logger'] ? { logger: { debug() {}, warn() {}, error() {} } } : {}),
  });
  const data = Buffer.alloc(100, 97);
  let n = 0;
  const run = async (ms) => {
    const end = Date.now() + ms;
    let records = 0;
    while (Date.now() < end) {
      const Records = [];
      for (let i = 0; i < 500; i++) Records.push({ Data: data, PartitionKey: `p-${n++}` });
      await k.send(new PutRecordsCommand({ StreamName: 's', Records }));
      records += 500;
    }
    return records;
  };
  await run(1000); // warm-up
  const c0 = threadCpuMicros();
  const t0 = Date.now();
  const records = await run(Number(o.seconds) * 1000);
  const cpuMicros = threadCpuMicros() - c0;
  const elapsed = (Date.now() - t0) / 1000;
  k.destroy();
  return { records, recordsPerSec: Math.round(records / elapsed), cpuMicros };
}

/** CPU time of the calling thread in µs (Linux; the whole process's elsewhere). */
function threadCpuMicros() {
  const secs = threadCpuSeconds();
  if (secs !== undefined) return secs * 1e6;
  const c = process.cpuUsage();
  return c.user + c.system;
}
