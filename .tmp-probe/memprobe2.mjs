import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { startTestServer } from '/work/main/packages/server/dist/test/helpers/server.js';
import { streamWithConsumers, rawSubscribeH2, shardId } from '/work/main/packages/server/dist/test/streams/fan-out-support.js';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const MiB = 1048576;
function memory() { gc(); gc(); const m = process.memoryUsage(); const anon = Number(/^RssAnon:\s+(\d+)/m.exec(readFileSync('/proc/self/status','utf8'))[1])*1024; return { heap: m.heapUsed/MiB, ext: m.external/MiB, ab: m.arrayBuffers/MiB, anon: anon/MiB }; }
const withSub = process.argv[2] === 'sub';
const t = await startTestServer({ disk: true, options: { heartbeatMs: 60000 } });
const k = t.kinesis;
const { StreamName, ConsumerARN } = await streamWithConsumers(k);
let sub;
if (withSub) { sub = await rawSubscribeH2(t.eddy.endpoint, Buffer.from(JSON.stringify({ConsumerARN, ShardId: shardId(0), StartingPosition:{Type:'TRIM_HORIZON'}})), undefined, { initialWindowSize: 65535 }); await sub.waitMessages(1); sub.stream.pause(); }
const base = memory(); console.log('base', base);
const data = Buffer.alloc(100*1024, 0x61);
for (let i = 0; i < 52; i++) {
  await k.send(new PutRecordsCommand({ StreamName, Records: Array.from({ length: 10 }, (_, j) => ({ PartitionKey: `p${j}`, Data: data })) }));
  
  if (i % 13 === 12) console.log(i, memory());
}
console.log('end', memory());
sub?.close();
await t.close();
