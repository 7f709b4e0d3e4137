// Consumer catch-up rate: a 4-shard stream holding a backlog of N records (100 bytes each), read
// from TRIM_HORIZON to the end by one consumer worker (memory leases, one checkpoint per batch),
// with polling and with enhanced fan-out. Eddy runs in this process, throttling off, so the figure
// is the consumer and server sharing one Node process (and the machine's cores).
// Run `npx tsc -b packages/server packages/client` first.
//
//   node bench/consumer.mjs [N=1000000] [--retrieval=polling|fan-out|both] [--bytes=100] [--shared-h2]
//
// --shared-h2: the consumer's KinesisClient multiplexes one HTTP/2 connection
// (requestHandler { disableConcurrentStreams: false }) instead of the SDK's default for Kinesis,
// a new HTTP/2 session per request.
import { cpus, loadavg } from 'node:os';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { createConsumer, createMemoryLeaseStore } from '../packages/client/dist/src/consumer/index.js';
import { startEddy } from '../packages/server/dist/src/server.js';

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}`))?.split('=')[1];
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000);
const BYTES = Number(flag('bytes') ?? 100);
const modes = (flag('retrieval') ?? 'both') === 'both' ? ['polling', 'fan-out'] : [flag('retrieval')];
const sharedH2 = args.includes('--shared-h2');
const SHARDS = 4;
const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'secret' };

const eddy = await startEddy({ port: 0, memory: true, stateDelayMs: 0, throttle: false, log: () => {} });
const writer = new KinesisClient({ endpoint: eddy.endpoint, region: 'us-east-1', credentials, requestHandler: { disableConcurrentStreams: false } });
const StreamName = 'bench-consumer';
await writer.send(new CreateStreamCommand({ StreamName, ShardCount: SHARDS }));
while ((await writer.send(new DescribeStreamSummaryCommand({ StreamName }))).StreamDescriptionSummary?.StreamStatus !== 'ACTIVE') await new Promise((r) => setTimeout(r, 20));

// The backlog: PutRecords of 500, 8 in flight, keys spread over the shards.
const payload = Buffer.alloc(BYTES, 0x61);
let next = 0;
const fillStart = performance.now();
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < N) {
      const from = next;
      const count = Math.min(500, N - from);
      next += count;
      const Records = Array.from({ length: count }, (_, i) => ({ PartitionKey: `pk-${(from + i) % 1000}`, Data: payload }));
      const r = await writer.send(new PutRecordsCommand({ StreamName, Records }));
      if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records refused`);
    }
  }),
);
const fillS = (performance.now() - fillStart) / 1000;
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`backlog: ${N} records of ${BYTES} bytes in ${SHARDS} shards, written in ${fillS.toFixed(1)} s (${Math.round(N / fillS)} records/s)`);

const results = [];
for (const retrieval of modes) {
  const client = new KinesisClient({ endpoint: eddy.endpoint, region: 'us-east-1', credentials, ...(sharedH2 ? { requestHandler: { disableConcurrentStreams: false } } : {}) });
  let count = 0;
  let batches = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const consumer = createConsumer({
    streamName: StreamName,
    applicationName: `bench-${retrieval}`,
    client,
    leaseStore: createMemoryLeaseStore(),
    initialPosition: 'TRIM_HORIZON',
    retrieval,
    processor: {
      async processRecords({ records, checkpointer }) {
        count += records.length;
        batches++;
        await checkpointer.checkpoint();
        if (count >= N) done();
      },
      shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
    },
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await consumer.start();
  await finished;
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await consumer.stop();
  client.destroy();
  const r = {
    retrieval,
    client: sharedH2 ? 'shared HTTP/2 session' : 'SDK default (HTTP/2 session per request)',
    records: count,
    seconds: Number(s.toFixed(2)),
    recordsPerSecond: Math.round(count / s),
    mibPerSecond: Number(((count * BYTES) / s / 1048576).toFixed(1)),
    recordsPerBatch: Math.round(count / batches),
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / s) * 100),
  };
  r.loadAverage1m = Number(loadavg()[0].toFixed(1));
  results.push(r);
  console.log(JSON.stringify(r));
}
writer.destroy();
await eddy.close();
