import http2 from 'node:http2';
import { startTestServer } from '/work/main/packages/server/dist/test/helpers/server.js';
import { streamWithConsumers } from '/work/main/packages/server/dist/test/streams/fan-out-support.js';
const t = await startTestServer({ disk: process.argv[2]==="disk" });
const { StreamName } = await streamWithConsumers(t.kinesis);
const data = Buffer.alloc(100*1024, 0x61).toString('base64');
const body = Buffer.from(JSON.stringify({ StreamName, Records: Array.from({ length: 10 }, (_, j) => ({ PartitionKey: `p${j}`, Data: data })) }));
const s = http2.connect(t.eddy.endpoint);
const a = Date.now();
for (let i = 0; i < 20; i++) {
  const req = s.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecords' });
  req.end(body);
  const chunks = []; req.on('data', c => chunks.push(c));
  await new Promise(r => req.on('end', r));
  if (i === 0) console.log(Buffer.concat(chunks).toString().slice(0, 100));
}
console.log('per call', (Date.now() - a) / 20);
s.close(); await t.close();
