import { Worker } from 'node:worker_threads';
import { mkdtempSync } from 'node:fs';
import { KinesisClient, CreateStreamCommand, PutRecordsCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
const worker = new Worker(new URL('./producer.mjs', import.meta.url), { workerData: { dataDir: mkdtempSync('/tmp/eddyb-') } });
const endpoint = await new Promise((r) => worker.once('message', (m) => r(m.endpoint)));
const client = new KinesisClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
await client.send(new CreateStreamCommand({ StreamName: 's', ShardCount: 4 }));
await new Promise(r=>setTimeout(r,100));
const recs = Array.from({ length: Number(process.argv[2] ?? 100) }, (_, i) => ({ Data: process.env.U8 ? new Uint8Array(Number(process.argv[3] ?? 51200)).fill(1) : Buffer.alloc(Number(process.argv[3] ?? 51200), 1), PartitionKey: 'a', ExplicitHashKey: String(BigInt(i % 4) << 126n) }));
const conc = Number(process.argv[4] ?? 4);
let bytes = 0; const t0 = performance.now(); const lat = [];
await Promise.all(Array.from({ length: conc }, async () => {
  for (let i = 0; i < 40 / conc * 4; i++) { const t = performance.now(); await client.send(new PutRecordsCommand({ StreamName: 's', Records: recs })); lat.push(performance.now() - t); bytes += recs.length * recs[0].Data.length; }
}));
const s = (performance.now() - t0) / 1000;
lat.sort((a,b)=>a-b);
console.log(`${(bytes / s / 1048576).toFixed(1)} MiB/s, req p50 ${lat[lat.length>>1].toFixed(0)} ms max ${lat.at(-1).toFixed(0)}`);
client.destroy(); worker.postMessage('close'); await new Promise(r => worker.once('message', r)); await worker.terminate();
