// Producer throughput into a 4-shard Eddy stream, with and without KPL aggregation, on the
// compiled code (run `npx tsc -b packages/server packages/client` first).
//
//   node bench/producer.mjs [--records=1000000] [--plain-records=200000] [--size=100] [--shards=4]
//                           [--keys=100000] [--mode=both|agg|plain] [--outstanding=80000]
//                           [--server=worker|inline] [--storage=disk|memory] [--endpoint=URL]
//                           [--http1] [--batch-bytes=N] [--linger=ms] [--exp-h2-window] [--verify]
//                           [--client=own|producer] [--api=put|add] [--string-data]
//
// Without --endpoint an Eddy starts in this process with disk storage in a temp dir and throttling
// off: by default in a worker thread (--server=worker), so that the server has the second core
// rather than halving the producer's thread, with the V8 heap settings `npm start` gives `eddy
// serve` (bench/npm-start-flags.mjs); --server=inline runs both on one thread. Records are
// --size bytes with partition keys drawn from --keys distinct keys ("partition-key-N"); per-shard
// shaping is off (rateLimitPercent: Infinity): Eddy does not throttle here, and 150% of 4 shards
// (6 MiB/s) would cap 100-byte records near 55,000/s. The application side keeps at most
// --outstanding puts unsettled (settled through shared handlers).
//
// --api=add sends through producer.add() instead: no promise per record (failures would go to
// onFailure and are counted), with the producer's own back-pressure standing in for --outstanding
// (maxInFlightBytes = --outstanding records' worth; the loop awaits ready() when add() says so).
// The promise per put() and the caller's reaction on it are most of what the young-generation GC
// copies at these rates, because tens of thousands of puts are unsettled at any moment.
//
// --string-data gives each record's data as a string of --size ASCII characters instead of a
// Buffer (the producer writes a string's UTF-8 straight into the aggregate).
//
// Reports user records/s (first put() to the last record stored), Kinesis records/s, the
// producer's latency percentiles, how busy the main and Eddy event loops were, and on Linux the
// CPU time per user record of each thread (from /proc/self/task): the main thread (producer and
// SDK), Eddy's thread, and the rest (V8's GC helper threads, libuv). Per-thread CPU is what to
// compare on a shared machine: wall-clock rates move with whatever else runs.
//
// --client=producer lets createProducer build its own client from endpoint/region/credentials
// (one shared HTTP/2 session) instead of being given the bench's KinesisClient (the SDK's default
// handler: a new HTTP/2 session per call); --http1 then does not apply.
// --http1 gives the SDK client its HTTP/1.1 handler (keep-alive) instead of the Kinesis client's
// default HTTP/2 (one new session per call). --exp-h2-window is an experiment on Eddy, not the
// producer: it raises each HTTP/2 session's connection-level receive window to 16 MiB (Node's
// default is 64 KiB; Eddy's listener sets only the per-stream window), which stops multi-MiB
// PutRecords bodies from stalling on WINDOW_UPDATE round trips to a busy client event loop.
// --verify reads the stream back and counts the user records.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { eddyWorkerOptions } from './npm-start-flags.mjs';
import { threadId, threadsCpuSeconds } from './proc.mjs';

const serverModule = new URL('../packages/server/dist/src/server.js', import.meta.url).href;

if (!isMainThread) {
  // Worker: hosts Eddy.
  if (workerData.expH2Window) {
    const http2 = (await import('node:http2')).default;
    const orig = http2.createServer;
    http2.createServer = (...args) => {
      const srv = orig(...args);
      srv.on('session', (s) => s.setLocalWindowSize(16 * 1024 * 1024));
      return srv;
    };
  }
  const { startEddy } = await import(serverModule);
  const eddy = await startEddy({ port: 0, dataDir: workerData.dataDir, memory: workerData.memory, stateDelayMs: 0, throttle: false, log: () => {} });
  parentPort.postMessage({ endpoint: eddy.endpoint, tid: threadId() });
  parentPort.on('message', async (m) => {
    if (m === 'close') {
      await eddy.close();
      parentPort.postMessage('closed');
    }
  });
} else {
  await main();
}

/** CPU seconds by thread from /proc (Linux): the main thread, Eddy's worker thread, the rest. */
function threadCpu(workerTid) {
  const all = threadsCpuSeconds();
  if (all.size === 0) return undefined;
  const out = { main: 0, eddy: 0, other: 0 };
  for (const [tid, secs] of all) {
    if (tid === process.pid) out.main += secs;
    else if (tid === workerTid) out.eddy += secs;
    else out.other += secs;
  }
  return out;
}

async function main() {
  const { values: a } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      'plain-records': { type: 'string', default: '200000' },
      size: { type: 'string', default: '100' },
      shards: { type: 'string', default: '4' },
      keys: { type: 'string', default: '100000' },
      mode: { type: 'string', default: 'both' },
      server: { type: 'string', default: 'worker' },
      storage: { type: 'string', default: 'disk' },
      endpoint: { type: 'string' },
      verify: { type: 'boolean', default: false },
      'batch-bytes': { type: 'string' },
      http1: { type: 'boolean', default: false },
      'exp-h2-window': { type: 'boolean', default: false },
      linger: { type: 'string' },
      outstanding: { type: 'string', default: '80000' },
      client: { type: 'string', default: 'own' },
      api: { type: 'string', default: 'put' },
      'string-data': { type: 'boolean', default: false },
    },
  });
  const { KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, DeleteStreamCommand, ListShardsCommand, GetShardIteratorCommand, GetRecordsCommand } =
    await import('@aws-sdk/client-kinesis');
  const { createProducer, deaggregate } = await import('../packages/client/dist/src/index.js');

  let endpoint = a.endpoint;
  let stop = async () => {};
  let worker;
  let workerTid;
  let dataDir;
  if (!endpoint) {
    dataDir = mkdtempSync(join(tmpdir(), 'eddy-bench-producer-'));
    if (a.server === 'inline') {
      const { startEddy } = await import(serverModule);
      const eddy = await startEddy({ port: 0, dataDir, memory: a.storage === 'memory', stateDelayMs: 0, throttle: false, log: () => {} });
      endpoint = eddy.endpoint;
      stop = () => eddy.close();
    } else {
      worker = new Worker(new URL(import.meta.url), { workerData: { dataDir, memory: a.storage === 'memory', expH2Window: a['exp-h2-window'] }, ...eddyWorkerOptions() });
      endpoint = await new Promise((resolve, reject) => {
        worker.once('message', (m) => {
          workerTid = m.tid;
          resolve(m.endpoint);
        });
        worker.once('error', reject);
      });
      stop = async () => {
        worker.postMessage('close');
        await new Promise((r) => worker.once('message', r));
        await worker.terminate();
      };
    }
  }

  // The SDK's Kinesis client speaks HTTP/2 (a new session per call); --http1 swaps in its
  // HTTP/1.1 handler with keep-alive.
  let requestHandler;
  if (a.http1) {
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    const { Agent } = await import('node:http');
    requestHandler = new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) });
  }
  const client = new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
    maxAttempts: 1,
    ...(requestHandler ? { requestHandler } : {}),
  });
  const SIZE = Number(a.size);
  const KEYS = Number(a.keys);
  const SHARDS = Number(a.shards);
  const keys = Array.from({ length: KEYS }, (_, i) => `partition-key-${i}`);
  const payload = a['string-data'] ? 'a'.repeat(SIZE) : Buffer.alloc(SIZE, 0x61);

  console.log(
    `node ${process.version}, ${a.api === 'add' ? 'add()' : 'put()'}, ${SHARDS} shards, ${SIZE}-byte records${a['string-data'] ? ' (string data)' : ''}, ${KEYS} partition keys, server: ${a.endpoint ? a.endpoint : a.server === 'inline' ? 'in-process, same thread' : 'in-process, worker thread'} (${a.storage} storage, throttling off)`,
  );

  async function run(label, aggregation, n) {
    const stream = `bench-producer-${label}-${Date.now()}`;
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: SHARDS }));
    while ((await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary?.StreamStatus !== 'ACTIVE') {
      await new Promise((r) => setTimeout(r, 20));
    }
    const timed = process.env.TIME_SEND
      ? {
          send: async (cmd, o) => {
            const t = performance.now();
            try {
              return await client.send(cmd, o);
            } finally {
              if (cmd.input.Records) console.log('PutRecords', cmd.input.Records.length, (performance.now() - t).toFixed(0), 'ms');
            }
          },
        }
      : client;
    const LIMIT = Number(a.outstanding);
    let failed = 0;
    const producer = createProducer({
      streamName: stream,
      ...(a.client === 'producer'
        ? { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } }
        : { client: timed }),
      aggregation,
      rateLimitPercent: Infinity,
      ...(a['batch-bytes'] ? { maxBatchBytes: Number(a['batch-bytes']) } : {}),
      ...(a.linger ? { lingerMs: Number(a.linger) } : {}),
      // add(): the producer's own back-pressure bounds what is in flight, as --outstanding puts would.
      ...(a.api === 'add' ? { maxInFlightBytes: LIMIT * (SIZE + `partition-key-${KEYS - 1}`.length), onFailure: () => failed++ } : {}),
    });
    // Warm-up: JIT and the shard map.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => producer.put({ partitionKey: keys[i % KEYS], data: payload })));
    const base = producer.metrics();

    // The application side: puts without awaiting each, at most --outstanding unsettled (the
    // producer's maxInFlightBytes bounds its own buffers, not the caller's promises), settled
    // through shared handlers so that the bench itself allocates little per record.
    let outstanding = 0;
    let wake;
    const settle = () => {
      if (--outstanding <= LIMIT / 2 && wake) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    const onOk = settle;
    const onErr = () => {
      failed++;
      settle();
    };
    const elu0 = performance.eventLoopUtilization();
    const workerElu0 = worker?.performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const threads0 = threadCpu(workerTid);
    const t0 = performance.now();
    if (a.api === 'add') {
      for (let i = 0; i < n; i++) {
        if (!producer.add({ partitionKey: keys[i % KEYS], data: payload })) await producer.ready();
        else if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r));
      }
    }
    for (let i = 0; a.api !== 'add' && i < n; i++) {
      outstanding++;
      producer.put({ partitionKey: keys[i % KEYS], data: payload }).then(onOk, onErr);
      if (outstanding >= LIMIT) await new Promise((r) => (wake = r));
      else if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r));
    }
    await producer.flush();
    while (outstanding > 0) await new Promise((r) => setImmediate(r));
    if (failed) console.log(`${failed} puts failed`);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const threads1 = threadCpu(workerTid);
    const elu = performance.eventLoopUtilization(elu0);
    const workerElu = worker && workerElu0 ? worker.performance.eventLoopUtilization(workerElu0) : undefined;
    const m = producer.metrics();
    await producer.close();
    const user = m.userRecordsPut - base.userRecordsPut;
    const kin = m.kinesisRecordsPut - base.kinesisRecordsPut;
    console.log(
      `${label.padEnd(14)} ${user.toLocaleString('en-US')} user records in ${secs.toFixed(2)} s: ` +
        `${Math.round(user / secs).toLocaleString('en-US')} user records/s, ${Math.round(kin / secs).toLocaleString('en-US')} Kinesis records/s, ` +
        `${((m.bytesPut - base.bytesPut) / secs / 1048576).toFixed(1)} MiB/s sent; retries ${m.retries}, throttles ${m.throttles}, failures ${m.failures}; ` +
        `latency p50 ${m.latencyMs.p50.toFixed(0)} ms, p99 ${m.latencyMs.p99.toFixed(0)} ms, max ${m.latencyMs.max.toFixed(0)} ms`,
    );
    console.log(
      `${''.padEnd(14)} main thread busy ${(elu.utilization * 100).toFixed(0)}%` +
        (workerElu ? `, Eddy worker thread busy ${(workerElu.utilization * 100).toFixed(0)}%` : '') +
        `; process CPU ${((cpu.user + cpu.system) / user).toFixed(2)} µs per user record (all threads)`,
    );
    if (threads0 && threads1) {
      const per = (k) => (((threads1[k] - threads0[k]) * 1e6) / user).toFixed(2);
      console.log(
        `${''.padEnd(14)} CPU per user record: main thread (producer + SDK) ${per('main')} µs, Eddy thread ${per('eddy')} µs, other threads (GC helpers, libuv) ${per('other')} µs` +
          ` ⇒ ${Math.round(user / (threads1.main - threads0.main)).toLocaleString('en-US')} user records per main-thread CPU-second`,
      );
    }
    if (a.verify) {
      let count = 0;
      const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
      for (const s of shards) {
        let it = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
        while (it) {
          const out = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
          for (const r of out.Records ?? []) count += deaggregate({ data: r.Data, partitionKey: r.PartitionKey }).length;
          if ((out.Records ?? []).length === 0) break;
          it = out.NextShardIterator;
        }
      }
      console.log(`${''.padEnd(14)} verified: ${count.toLocaleString('en-US')} user records read back (expected ${(n + 2000).toLocaleString('en-US')})`);
    }
    await client.send(new DeleteStreamCommand({ StreamName: stream }));
  }

  try {
    if (a.mode !== 'plain') await run('aggregation', true, Number(a.records));
    if (a.mode !== 'agg') await run('no-aggregation', false, Number(a['plain-records']));
  } finally {
    client.destroy();
    await stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
