// producer CPU cost with a stub client (no HTTP): µs of CPU per user record
import { createProducer } from '../packages/client/dist/src/index.js';
const shards = Array.from({ length: 4 }, (_, i) => ({ ShardId: `shardId-00000000000${i}`, HashKeyRange: { StartingHashKey: String(BigInt(i) << 126n), EndingHashKey: String(((BigInt(i) + 1n) << 126n) - 1n) } }));
let seq = 0n;
const RTT = Number(process.env.RTT ?? 0);
const client = {
  send: async (cmd) => {
    if (cmd.constructor.name === 'ListShardsCommand') return { Shards: shards };
    const recs = cmd.input.Records;
    if (RTT) await new Promise((r) => setTimeout(r, RTT));
    return { Records: recs.map((r) => ({ ShardId: shards[Number(BigInt(r.ExplicitHashKey ?? 0) >> 126n)].ShardId, SequenceNumber: String(seq++) })) };
  },
};
const producer = createProducer({ streamName: 's', client, rateLimitPercent: Infinity, aggregation: process.env.AGG !== '0' });
const N = Number(process.argv[2] ?? 1_000_000);
const KEYS = 100_000;
const keys = Array.from({ length: KEYS }, (_, i) => `partition-key-${i}`);
const payload = Buffer.alloc(100, 0x61);
const LIMIT = Number(process.env.LIMIT ?? 80000);
let outstanding = 0, wake;
const settle = () => { if (--outstanding <= LIMIT / 2 && wake) { const w = wake; wake = undefined; w(); } };
async function run(n) {
  for (let i = 0; i < n; i++) {
    outstanding++;
    producer.put({ partitionKey: keys[i % KEYS], data: payload }).then(settle, settle);
    if (outstanding >= LIMIT) await new Promise((r) => (wake = r));
    else if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r));
  }
  await producer.flush();
  while (outstanding > 0) await new Promise((r) => setImmediate(r));
}
await run(20000);
const c0 = process.cpuUsage(); const t0 = performance.now(); const elu0 = performance.eventLoopUtilization();
await run(N);
const c = process.cpuUsage(c0); const t = performance.now() - t0; const elu = performance.eventLoopUtilization(elu0);
const m = producer.metrics();
console.log(`${N} records: wall ${(N / t * 1000).toFixed(0)} rec/s, CPU ${((c.user + c.system) / N).toFixed(2)} µs/record, main busy ${(elu.utilization*100).toFixed(0)}%, latency p50 ${m.latencyMs.p50.toFixed(1)} ms, kinesis records ${m.kinesisRecordsPut}`);
await producer.close();
