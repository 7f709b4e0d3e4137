import { KinesisClient } from '@aws-sdk/client-kinesis';
import { FastBody } from '../packages/client/dist/src/producer/fast-body.js';
const client = new KinesisClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
let last;
client.middlewareStack.add((next) => async (args) => { last = args.request; return { response: { statusCode: 200, headers: {}, body: null }, output: {} }; }, { step: 'finalizeRequest', priority: 'low', name: 'stop' });
const recs = Array.from({ length: 100 }, (_, i) => ({ data: Buffer.alloc(51200, i), partitionKey: 'a', explicitHashKey: String(i * 12345) }));
for (const mode of [false, true]) {
  const fb = new FastBody(mode);
  for (let r = 0; r < 4; r++) {
    const t = performance.now();
    for (let i = 0; i < 10; i++) await client.send(fb.command({ StreamName: 's' }, recs)).catch(() => {});
    const ms = performance.now() - t;
    console.log(`fast=${fb.active} ${(10 * 100 * 51200 / ms / 1000).toFixed(0)} MB/s of data through serialize+sign`, last.headers['content-length'], typeof last.body, last.body?.length);
  }
}
