#!/usr/bin/env node
// Enhanced fan-out benchmark: put-to-push latency through SubscribeToShard. C consumers subscribe
// (the AWS SDK's SubscribeToShardCommand, `for await` over its EventStream, on its default HTTP/2
// handler) to each of S shards at LATEST; a producer sends single-record PutRecord calls at a
// steady total rate, spread evenly over the shards. For every record and every consumer, the
// latency is the time from just before the producer sends the record to the moment the
// consumer's `for await` loop holds it: the PutRecord request, the durable (fsync'd) append, the
// push, and the SDK's decoding on the consumer's side. Also reported: put-to-ack (the PutRecord
// round trip) and ack-to-push (how long after the ack the push arrived; negative when it came
// first, as it usually does: the push starts when the append is durable, as the ack does).
//
// Threads: Eddy (startEddy from the compiled packages/server/dist/src/server.js: disk storage with
// fsync, throttling off) runs in a worker thread; the producer in another; the consumers on the
// main thread. Each record carries its send time (epoch ms, microsecond resolution), so latency is
// measured across threads. --same-thread runs Eddy on the consumers' thread; --endpoint measures a
// running Eddy (throttling should be off there).
//
// --producer raw (default) writes the PutRecord JSON straight to one node:http2 session; sdk uses
// the SDK's PutRecordCommand (one pooled HTTP/2 session), whose own CPU cost (about 1 ms a call
// here) then shares the clients' core with everything else.
//
//   npx tsc -b packages/server
//   node bench/fan-out.mjs [--seconds 10] [--rate 1000] [--shards 4] [--consumers 4] [--size 100]
//                          [--warmup 1] [--memory] [--same-thread] [--endpoint URL] [--producer raw|sdk]
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { threadId, threadsCpuSeconds } from './proc.mjs';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

const here = fileURLToPath(import.meta.url);
const serverModule = new URL('../packages/server/dist/src/server.js', import.meta.url).href;
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };

/** Epoch milliseconds with sub-millisecond resolution, comparable across this process's threads. */
const now = () => performance.timeOrigin + performance.now();

if (isMainThread) await main();
else if (workerData.role === 'server') await serverThread(workerData.options);
else await producerThread(workerData);

// ------------------------------------------------------------------------------------- server
async function serverThread(options) {
  const { startEddy } = await import(serverModule);
  const eddy = await startEddy({ ...options, log: () => undefined });
  parentPort.postMessage({ endpoint: eddy.endpoint, tid: threadId() });
  parentPort.once('message', async () => {
    await eddy.close();
    parentPort.postMessage('closed');
  });
}

// ----------------------------------------------------------------------------------- producer
/** One PutRecord every 1/rate s, round-robin over the shards' hash ranges; reports the acks. */
async function producerThread({ endpoint, StreamName, hashKeys, rate, total, size, mode, firstId }) {
  const base = Buffer.alloc(Math.max(size, 12), 0x61);
  let put;
  let session;
  let k;
  // Signed-looking, as the SDK's are (Eddy's default `auth: none` reads the header, checks no
  // signature); an unsigned request would take Eddy's slower missing-signature path instead.
  const RAW_HEADERS = {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'Kinesis_20131202.PutRecord',
    'x-amz-date': '20260101T000000Z',
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}`,
  };
  if (mode === 'raw') {
    session = http2.connect(endpoint, { rejectUnauthorized: false });
    put = (id, Data) =>
      new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/', ...RAW_HEADERS });
        req.end(JSON.stringify({ StreamName, PartitionKey: `k${id}`, ExplicitHashKey: hashKeys[id % hashKeys.length], Data: Data.toString('base64') }));
        let status = 0;
        req.on('response', (h) => (status = h[':status']));
        req.on('data', () => undefined);
        req.on('end', () => (status === 200 ? resolve() : reject(new Error(`PutRecord answered ${status}`))));
        req.on('error', reject);
      });
  } else {
    k = new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, requestHandler: new NodeHttp2Handler({ disableConcurrentStreams: false }) });
    put = (id, Data) => k.send(new PutRecordCommand({ StreamName, PartitionKey: `k${id}`, ExplicitHashKey: hashKeys[id % hashKeys.length], Data }));
  }
  const ackLat = [];
  const ackAt = new Float64Array(total);
  let sent = 0;
  let failed = 0;
  let firstError;
  const inflight = new Set();
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        const id = sent++;
        const Data = Buffer.from(base);
        const at = now();
        Data.writeUInt32BE(id, 0);
        Data.writeDoubleBE(at, 4);
        const p = put(id, Data)
          .then(
            () => {
              const t = now();
              ackAt[id] = t;
              if (id >= firstId) ackLat.push(t - at);
            },
            (e) => {
              failed++;
              firstError ??= `${e.name}: ${e.message}`;
            },
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inflight);
  session?.close();
  k?.destroy();
  parentPort.postMessage({ sent, failed, firstError, ackLat, ackAt, seconds: (performance.now() - t0) / 1000 });
}

// --------------------------------------------------------------------------------------- main
/** Utilisation between two eventLoopUtilization() readings. */
function eluSince(later, before) {
  const idle = later.idle - before.idle;
  const active = later.active - before.active;
  return active / (idle + active);
}

async function main() {
  const { values: o } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      rate: { type: 'string', default: '1000' },
      shards: { type: 'string', default: '4' },
      consumers: { type: 'string', default: '4' },
      size: { type: 'string', default: '100' },
      memory: { type: 'boolean', default: false },
      'same-thread': { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      producer: { type: 'string', default: 'raw' },
    },
  });
  const seconds = Number(o.seconds);
  const warmup = Number(o.warmup);
  const rate = Number(o.rate);
  const shards = Number(o.shards);
  const consumers = Number(o.consumers);
  const size = Number(o.size);
  if (o.producer !== 'raw' && o.producer !== 'sdk') throw new Error('--producer is raw or sdk');

  // ---- the server
  let endpoint = o.endpoint;
  let stop = async () => {};
  let where = `Eddy at ${endpoint}`;
  /** The server thread's event-loop utilisation and thread id, when it runs in a worker. */
  let serverElu;
  let serverTid;
  if (!endpoint) {
    const dataDir = o.memory ? undefined : mkdtempSync(join(tmpdir(), 'eddy-bench-fan-out-'));
    const options = { port: 0, host: '127.0.0.1', memory: o.memory, ...(dataDir ? { dataDir } : {}), stateDelayMs: 0, throttle: false };
    where = `${o.memory ? 'memory' : 'disk (local, fsync\'d)'} storage, Eddy ${o['same-thread'] ? 'on the consumers\' thread' : 'in its own thread'}`;
    if (o['same-thread']) {
      const { startEddy } = await import(serverModule);
      const eddy = await startEddy({ ...options, log: () => undefined });
      endpoint = eddy.endpoint;
      stop = async () => eddy.close();
    } else {
      const worker = new Worker(here, { workerData: { role: 'server', options } });
      endpoint = await new Promise((resolve, reject) => {
        worker.once('message', (m) => {
          serverTid = m.tid;
          resolve(m.endpoint);
        });
        worker.once('error', reject);
      });
      serverElu = () => worker.performance.eventLoopUtilization();
      stop = async () => {
        worker.postMessage('close');
        await new Promise((resolve) => worker.once('message', resolve));
        await worker.terminate();
      };
    }
    const inner = stop;
    stop = async () => {
      await inner();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    };
  }

  // Control calls; each subscription gets its own HTTP/2 session, as the SDK's default handler
  // does for event streams.
  const k = new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  const StreamName = `fan-out-bench-${process.pid}-${Date.now()}`;
  await k.send(new CreateStreamCommand({ StreamName, ShardCount: shards }));
  for (;;) {
    const s = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
    if (s.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const StreamARN = (await k.send(new DescribeStreamSummaryCommand({ StreamName }))).StreamDescriptionSummary.StreamARN;
  const shardList = (await k.send(new ListShardsCommand({ StreamName }))).Shards;
  const arns = [];
  for (let c = 0; c < consumers; c++) {
    const { Consumer } = await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: `bench-${c}` }));
    arns.push(Consumer.ConsumerARN);
  }
  // Consumers are ACTIVE once Eddy's state delay has passed (0 here; a running Eddy: wait).
  if (o.endpoint) await new Promise((r) => setTimeout(r, 1000));

  // ---- subscriptions
  const firstId = Math.round(rate * warmup);
  const pushes = []; // id, latency (ms), receivedAt (epoch ms)
  let received = 0;
  let ended = false;
  const subs = [];
  const aborts = [];
  for (const ConsumerARN of arns) {
    for (const shard of shardList) {
      const ac = new AbortController();
      aborts.push(ac);
      const r = await k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: shard.ShardId, StartingPosition: { Type: 'LATEST' } }), { abortSignal: ac.signal });
      subs.push(
        (async () => {
          try {
            for await (const e of r.EventStream) {
              const ev = e.SubscribeToShardEvent;
              if (!ev) continue;
              const t = now();
              for (const rec of ev.Records) {
                const d = Buffer.from(rec.Data.buffer, rec.Data.byteOffset, rec.Data.byteLength);
                const id = d.readUInt32BE(0);
                received++;
                if (id >= firstId) pushes.push(id, t - d.readDoubleBE(4), t);
              }
            }
          } catch (err) {
            if (!ended) throw err;
          }
        })(),
      );
    }
  }

  // ---- the producer's thread
  const total = Math.round(rate * (warmup + seconds));
  const hashKeys = shardList.map((s) => s.HashKeyRange.StartingHashKey);
  const producer = new Worker(here, { workerData: { role: 'producer', endpoint, StreamName, hashKeys, rate, total, size, mode: o.producer, firstId } });
  let elu0;
  const eluTimer = setTimeout(() => {
    elu0 = { client: performance.eventLoopUtilization(), producer: producer.performance.eventLoopUtilization(), server: serverElu?.(), cpu: threadsCpuSeconds() };
  }, warmup * 1000);
  const produced = await new Promise((resolve, reject) => {
    producer.once('message', resolve);
    producer.once('error', reject);
  });
  clearTimeout(eluTimer);
  const cpu1 = threadsCpuSeconds();
  const elu = elu0 && {
    client: performance.eventLoopUtilization(elu0.client).utilization,
    server: serverElu ? eluSince(serverElu(), elu0.server) : undefined,
  };
  await producer.terminate();

  // Let the last pushes land.
  const expected = (produced.sent - produced.failed) * consumers;
  const deadline = Date.now() + 10_000;
  while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  ended = true;
  for (const ac of aborts) ac.abort();
  await Promise.allSettled(subs);

  // ---- figures (records sent during the warm-up are left out)
  const pushLat = [];
  const ackToPush = [];
  for (let i = 0; i < pushes.length; i += 3) {
    pushLat.push(pushes[i + 1]);
    const ack = produced.ackAt[pushes[i]];
    if (ack) ackToPush.push(pushes[i + 2] - ack);
  }
  const pct = (xs) => {
    const s = Float64Array.from(xs).sort();
    const at = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
    return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] };
  };
  const fmt = (name, x) =>
    x.n === 0
      ? `${name.padEnd(12)} n=0`
      : `${name.padEnd(12)} n=${String(x.n).padStart(6)}  p50 ${x.p50.toFixed(2)} ms  p90 ${x.p90.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  max ${x.max.toFixed(2)} ms`;
  console.log(
    `fan-out: ${consumers} consumers x ${shards} shards, ${rate} records/s total for ${seconds} s (+${warmup} s warm-up), ${size}-byte records; ` +
      `producer ${o.producer}; ${where}; Node ${process.version}`,
  );
  console.log(
    `sent ${produced.sent} records in ${produced.seconds.toFixed(1)} s (${produced.failed} failed${produced.firstError ? `, first: ${produced.firstError}` : ''}); ` +
      `pushed ${received} of ${expected} expected deliveries`,
  );
  console.log(fmt('put-to-push', pct(pushLat)));
  console.log(fmt('put-to-ack', pct(produced.ackLat)));
  console.log(fmt('ack-to-push', pct(ackToPush)));
  if (elu) {
    console.log(
      `event loops busy while measuring: consumers' thread ${(elu.client * 100).toFixed(0)}%` +
        (elu.server !== undefined ? `, Eddy's thread ${(elu.server * 100).toFixed(0)}%` : ''),
    );
    if (cpu1.size > 0) {
      // CPU time, unlike busy time, does not count the moments a thread waited for a vCPU.
      const measured = produced.sent - firstId;
      let consumersCpu = 0;
      let eddyCpu = 0;
      let rest = 0;
      for (const [tid, secs] of cpu1) {
        const d = secs - (elu0.cpu.get(tid) ?? 0);
        if (tid === process.pid) consumersCpu += d;
        else if (tid === serverTid) eddyCpu += d;
        else rest += d;
      }
      const per = (secs) => `${((secs * 1e6) / measured).toFixed(0)} µs`;
      console.log(
        `CPU per record while measuring: consumers' thread ${per(consumersCpu)}` +
          (serverTid !== undefined ? `, Eddy's thread ${per(eddyCpu)}` : '') +
          `, other threads (producer, GC helpers, libuv) ${per(rest)}; ${(((consumersCpu + eddyCpu + rest) / seconds) * 100).toFixed(0)}% of one vCPU in all`,
      );
    }
  }

  if (o.endpoint) await k.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: true })).catch(() => undefined);
  k.destroy();
  await stop();
  if (received < expected) process.exitCode = 1;
}
