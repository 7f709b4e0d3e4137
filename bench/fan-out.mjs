#!/usr/bin/env node
// Enhanced fan-out benchmark: put-to-push latency through SubscribeToShard. C consumers subscribe
// (the AWS SDK's SubscribeToShardCommand, `for await` over its EventStream, on its default HTTP/2
// handler) to each of S shards at LATEST; one producer sends single-record PutRecord calls at a
// steady total rate, spread evenly over the shards. For every record and every consumer, the
// latency is the time from just before the producer's `send` to the moment the consumer's loop
// holds the record: it includes the PutRecord request, the durable (fsync'd) append, the push,
// and the SDK's decoding on both ends. Also reported: put-to-ack (PutRecord round trip) and
// ack-to-push (how long after the ack the push arrived; negative when it came first).
//
// By default Eddy runs in a worker thread of this process (startEddy from the compiled
// packages/server/dist/src/server.js: disk storage with fsync, throttling off), so the server and
// the clients each have a thread, as two processes would on this 2-core machine; --same-thread
// puts it on the clients' thread; --endpoint measures a running Eddy instead.
//
//   npx tsc -b packages/server
//   node bench/fan-out.mjs [--seconds 10] [--rate 1000] [--shards 4] [--consumers 4] [--size 100]
//                          [--warmup 1] [--memory] [--same-thread] [--endpoint URL] [--producer sdk|raw]
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
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

// ------------------------------------------------------------------------- server in a worker
if (!isMainThread) {
  const { startEddy } = await import(serverModule);
  const eddy = await startEddy({ ...workerData, log: () => undefined });
  parentPort.postMessage({ endpoint: eddy.endpoint });
  parentPort.once('message', async () => {
    await eddy.close();
    parentPort.postMessage('closed');
  });
} else {
  await main();
}

/** Utilisation between two eventLoopUtilization() readings. */
function eluSince(now, before) {
  const idle = now.idle - before.idle;
  const active = now.active - before.active;
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
      producer: { type: 'string', default: 'sdk' },
    },
  });
  const seconds = Number(o.seconds);
  const warmup = Number(o.warmup);
  const rate = Number(o.rate);
  const shards = Number(o.shards);
  const consumers = Number(o.consumers);
  const size = Number(o.size);

  // ---- the server
  let endpoint = o.endpoint;
  let stop = async () => {};
  let where = `--endpoint ${endpoint}`;
  /** The server thread's event-loop utilisation, when it runs in a worker. */
  let serverElu;
  if (!endpoint) {
    const dataDir = o.memory ? undefined : mkdtempSync(join(tmpdir(), 'eddy-bench-fan-out-'));
    const options = { port: 0, host: '127.0.0.1', memory: o.memory, ...(dataDir ? { dataDir } : {}), stateDelayMs: 0, throttle: false };
    where = `${o.memory ? 'memory' : 'disk (LMDB, fsync per commit)'} storage, server ${o['same-thread'] ? 'on the clients\' thread' : 'in a worker thread'}`;
    if (o['same-thread']) {
      const { startEddy } = await import(serverModule);
      const eddy = await startEddy({ ...options, log: () => undefined });
      endpoint = eddy.endpoint;
      stop = async () => eddy.close();
    } else {
      const worker = new Worker(here, { workerData: options });
      endpoint = await new Promise((resolve, reject) => {
        worker.once('message', (m) => resolve(m.endpoint));
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

  // Control calls and the producer share one HTTP/2 session; each subscription gets its own, as
  // the SDK's default handler does for event streams.
  const k = new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, requestHandler: new NodeHttp2Handler({ disableConcurrentStreams: false }) });
  const subscriber = new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });

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
  // (Consumers become ACTIVE after Eddy's state delay; 0 here, so they are ACTIVE now.)

  // ---- subscriptions
  const sentAt = []; // record id -> performance.now() just before send
  const ackAt = [];
  const pushes = []; // [id, receivedAt]
  let received = 0;
  let ended = false;
  const subs = [];
  const aborts = [];
  for (const ConsumerARN of arns) {
    for (const shard of shardList) {
      const ac = new AbortController();
      aborts.push(ac);
      const r = await subscriber.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: shard.ShardId, StartingPosition: { Type: 'LATEST' } }), { abortSignal: ac.signal });
      subs.push(
        (async () => {
          try {
            for await (const e of r.EventStream) {
              const ev = e.SubscribeToShardEvent;
              if (!ev) continue;
              const now = performance.now();
              for (const rec of ev.Records) {
                const d = rec.Data;
                const id = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
                pushes.push(id, now);
                received++;
              }
            }
          } catch (err) {
            if (!ended) throw err;
          }
        })(),
      );
    }
  }

  // ---- producer: one PutRecord per 1/rate s, round-robin over the shards' hash ranges
  const hashKeys = shardList.map((s) => s.HashKeyRange.StartingHashKey);
  const data = Buffer.alloc(Math.max(size, 4), 0x61);
  // --producer sdk: PutRecordCommand on the SDK (one HTTP/2 session); raw: the same JSON request
  // written straight to one node:http2 session, which leaves the clients' thread more room.
  let put;
  let rawSession;
  if (o.producer === 'raw') {
    rawSession = http2.connect(endpoint, { rejectUnauthorized: false });
    put = (id, Data) =>
      new Promise((resolve, reject) => {
        const req = rawSession.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecord' });
        req.end(JSON.stringify({ StreamName, PartitionKey: `k${id}`, ExplicitHashKey: hashKeys[id % hashKeys.length], Data: Data.toString('base64') }));
        let status = 0;
        req.on('response', (h) => (status = h[':status']));
        req.on('data', () => undefined);
        req.on('end', () => (status === 200 ? resolve() : reject(new Error(`PutRecord answered ${status}`))));
        req.on('error', reject);
      });
  } else {
    put = (id, Data) => k.send(new PutRecordCommand({ StreamName, PartitionKey: `k${id}`, ExplicitHashKey: hashKeys[id % hashKeys.length], Data }));
  }
  let sent = 0;
  let failed = 0;
  const inflight = new Set();
  const t0 = performance.now();
  let elu0;
  setTimeout(() => {
    elu0 = { client: performance.eventLoopUtilization(), server: serverElu?.() };
  }, warmup * 1000);
  const total = Math.round(rate * (warmup + seconds));
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        const id = sent++;
        const Data = Buffer.from(data);
        Data.writeUInt32BE(id, 0);
        sentAt[id] = performance.now();
        const p = put(id, Data)
          .then(
            () => (ackAt[id] = performance.now()),
            (e) => {
              if (failed++ === 0) console.error("first failure:", e.name, e.message);
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
  const elu = { client: performance.eventLoopUtilization(elu0.client).utilization, server: undefined };
  if (serverElu) elu.server = eluSince(serverElu(), elu0.server);
  await Promise.all(inflight);
  // Let the last pushes land.
  const expected = (sent - failed) * consumers;
  const deadline = performance.now() + 10_000;
  while (received < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  ended = true;
  for (const ac of aborts) ac.abort();
  await Promise.allSettled(subs);

  // ---- figures (records sent during the warm-up are left out)
  const firstId = Math.round(rate * warmup);
  const pushLat = [];
  const ackToPush = [];
  for (let i = 0; i < pushes.length; i += 2) {
    const id = pushes[i];
    if (id < firstId) continue;
    pushLat.push(pushes[i + 1] - sentAt[id]);
    if (ackAt[id] !== undefined) ackToPush.push(pushes[i + 1] - ackAt[id]);
  }
  const ackLat = [];
  for (let id = firstId; id < sent; id++) if (ackAt[id] !== undefined) ackLat.push(ackAt[id] - sentAt[id]);
  const wall = (performance.now() - t0) / 1000;

  const pct = (xs) => {
    const s = Float64Array.from(xs).sort();
    const at = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
    return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] };
  };
  const fmt = (name, x) =>
    `${name.padEnd(14)} n=${String(x.n).padStart(6)}  p50 ${x.p50.toFixed(2)} ms  p90 ${x.p90.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  max ${x.max.toFixed(2)} ms`;
  console.log(
    `fan-out: ${consumers} consumers x ${shards} shards, ${rate} records/s total for ${seconds} s (+${warmup} s warm-up), ${size}-byte records; ` +
      `producer ${o.producer}; ${where}; Node ${process.version}`,
  );
  console.log(`sent ${sent} records (${failed} failed) in ${wall.toFixed(1)} s; pushed ${received} of ${expected} expected deliveries`);
  console.log(fmt('put-to-push', pct(pushLat)));
  console.log(fmt('put-to-ack', pct(ackLat)));
  console.log(fmt('ack-to-push', pct(ackToPush)));
  console.log(
    `event-loop busy while measuring: clients ${(elu.client * 100).toFixed(0)}%` + (elu.server !== undefined ? `, server ${(elu.server * 100).toFixed(0)}%` : ''),
  );

  k.destroy();
  subscriber.destroy();
  rawSession?.close();
  if (o.endpoint) {
    const k2 = new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    await k2.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: true })).catch(() => undefined);
    k2.destroy();
  }
  await stop();
  if (received < expected) process.exitCode = 1;
}
