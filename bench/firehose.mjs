#!/usr/bin/env node
// Firehose benchmark: ingest (PutRecordBatch through the AWS SDK, every acknowledged record fsync'd
// in the buffer log) and delivery to the local S3 layout (<data-dir>/s3/<bucket>/<key>), for
// uncompressed objects, GZIP, and JSON→Parquet conversion. Starts its own `eddy serve` (disk
// storage, throttling off) as a child process, so server CPU can be read from /proc.
//
// For each format: producers send PutRecordBatch calls of `batch` JSON records (~`size` bytes) for
// `seconds`; then the benchmark waits until DeliveryToS3.Records (from GET /metrics) reaches the
// number of acknowledged records. Reported:
//   ingest   acknowledged records/s and MiB/s over the producing window
//   delivery records/s from the first put to the last record delivered (end to end, so it is
//            bounded by ingest), plus how far behind delivery was when producing stopped
//   objects, bytes written, server CPU µs per record
//
//   node bench/firehose.mjs [--seconds 10] [--producers 4] [--batch 500] [--size 100]
//                           [--formats none,gzip,parquet] [--buffer-mib 5] [--workers]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { cpuSeconds } from './proc.mjs';

const here = fileURLToPath(import.meta.url);
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const ROLE = 'arn:aws:iam::000000000000:role/bench';

function client(endpoint) {
  return new FirehoseClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

/** A JSON record of about `size` bytes that the Parquet table below can hold. */
function record(id, size) {
  const base = { id, customer: `c${id % 97}`, amount: (id % 10000) / 100, ts: '2026-11-22T03:04:05Z', pad: '' };
  const room = size - JSON.stringify(base).length - 1;
  base.pad = 'x'.repeat(Math.max(0, room));
  return `${JSON.stringify(base)}\n`;
}

/** One producer: PutRecordBatch calls until the deadline; returns the acknowledged count. */
async function produce({ endpoint, name, batch, size, deadline, id }) {
  const fh = client(endpoint);
  let records = 0;
  let failed = 0;
  let next = id * 1e9;
  while (Date.now() < deadline) {
    const Records = [];
    for (let i = 0; i < batch; i++) Records.push({ Data: Buffer.from(record(next++, size)) });
    const r = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records }));
    records += batch - (r.FailedPutCount ?? 0);
    failed += r.FailedPutCount ?? 0;
  }
  fh.destroy();
  return { records, failed };
}

if (!isMainThread) {
  produce(workerData).then((r) => parentPort.postMessage(r));
} else {
  await main();
}

async function startServer(dir, catalog) {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...(process.env.EDDY_BENCH_NODE_ARGS ? process.env.EDDY_BENCH_NODE_ARGS.split(' ') : []), join(here, '../../packages/server/dist/src/cli/main.js'), 'serve', '--port', '0', '--data-dir', dir, '--no-throttle', '--state-delay-ms', '0', '--glue-catalog', catalog],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const endpoint = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`eddy exited ${c}`)));
  });
  return { endpoint, pid: child.pid, readyMs: Date.now() - started, stop: () => child.kill('SIGTERM') };
}

async function delivered(endpoint, name) {
  const text = await fetch(`${endpoint}/metrics`).then((r) => r.text());
  const m = new RegExp(`^aws_firehose_DeliveryToS3_Records\\{DeliveryStreamName="${name}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function bucketStats(dir) {
  let objects = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else {
        objects++;
        bytes += s.size;
      }
    }
  };
  try {
    walk(dir);
  } catch {
    // no objects yet
  }
  return { objects, bytes };
}

async function main() {
  const { values: o } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      producers: { type: 'string', default: '4' },
      batch: { type: 'string', default: '500' },
      size: { type: 'string', default: '100' },
      formats: { type: 'string', default: 'none,gzip,parquet' },
      'buffer-mib': { type: 'string', default: '5' },
      workers: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(o.seconds);
  const producers = Number(o.producers);
  const batch = Number(o.batch);
  const size = Number(o.size);
  const dir = mkdtempSync(join(tmpdir(), 'eddy-fh-bench-'));
  const catalog = join(dir, 'glue.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      databases: {
        bench: {
          tables: {
            events: {
              columns: [
                { Name: 'id', Type: 'bigint' },
                { Name: 'customer', Type: 'string' },
                { Name: 'amount', Type: 'double' },
                { Name: 'ts', Type: 'timestamp' },
                { Name: 'pad', Type: 'string' },
              ],
            },
          },
        },
      },
    }),
  );
  const server = await startServer(join(dir, 'data'), catalog);
  const { endpoint, pid } = server;
  console.log(`eddy ready in ${server.readyMs} ms at ${endpoint}`);
  const admin = client(endpoint);
  const results = {};
  for (const format of o.formats.split(',')) {
    const name = `bench-${format}-${Date.now()}`;
    const bucket = `bench-${format}`;
    const parquet = format === 'parquet';
    await admin.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: ROLE,
          BucketARN: `arn:aws:s3:::${bucket}`,
          CompressionFormat: format === 'gzip' ? 'GZIP' : 'UNCOMPRESSED',
          // Parquet needs SizeInMBs ≥ 64 (checklist 4.7); a 1 s interval flushes the tail quickly.
          BufferingHints: { SizeInMBs: parquet ? 64 : Number(o['buffer-mib']), IntervalInSeconds: 1 },
          ...(parquet
            ? {
                DataFormatConversionConfiguration: {
                  Enabled: true,
                  SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'bench', TableName: 'events' },
                  InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
                  OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
                },
              }
            : {}),
        },
      }),
    );
    for (let i = 0; i < 100; i++) {
      const d = await admin.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
      if (d.DeliveryStreamDescription.DeliveryStreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    const deadline = t0 + seconds * 1000;
    const jobs = Array.from({ length: producers }, (_, id) => {
      const args = { endpoint, name, batch, size, deadline, id };
      if (!o.workers) return produce(args);
      return new Promise((resolve, reject) => {
        const w = new Worker(here, { workerData: args });
        w.once('message', resolve);
        w.once('error', reject);
      });
    });
    const rs = await Promise.all(jobs);
    const ingestSec = (Date.now() - t0) / 1000;
    const acked = rs.reduce((a, r) => a + r.records, 0);
    const atStop = await delivered(endpoint, name);
    let done = atStop;
    while (done < acked) {
      await new Promise((r) => setTimeout(r, 50));
      done = await delivered(endpoint, name);
      if (Date.now() - t0 > (seconds + 300) * 1000) throw new Error(`${format}: only ${done} of ${acked} delivered`);
    }
    const endToEndSec = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const stats = bucketStats(join(dir, 'data', 's3', bucket));
    results[format] = {
      ingestRecordsPerSec: Math.round(acked / ingestSec),
      ingestMiBPerSec: +((acked * size) / ingestSec / 1048576).toFixed(1),
      deliveredRecordsPerSec: Math.round(done / endToEndSec),
      behindAtStop: acked - atStop,
      drainSec: +(endToEndSec - ingestSec).toFixed(2),
      records: acked,
      failed: rs.reduce((a, r) => a + r.failed, 0),
      objects: stats.objects,
      objectMiB: +(stats.bytes / 1048576).toFixed(1),
      serverCpuMicrosPerRecord: +((cpu / acked) * 1e6).toFixed(2),
      serverCpuPercent: Math.round((cpu / endToEndSec) * 100),
    };
    console.log(`${format}:`, JSON.stringify(results[format]));
  }
  admin.destroy();
  server.stop();
  await new Promise((r) => setTimeout(r, 300));
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ machine: { cpus: cpus().length, node: process.version }, params: { seconds, producers, batch, size }, ...results }, null, 2));
}
