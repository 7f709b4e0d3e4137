// SubscribeToShard at the wire level: event-stream framing and CRCs, initial-response first, over
// h2c, h2 over TLS and chunked HTTP/1.1; a Java-SDK-style CBOR request with CBOR events; and
// botocore, which reads the event stream over HTTP/1.1 (checklist 1.2, 1.3).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { DeregisterStreamConsumerCommand, type KinesisClient, PutRecordCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { CborTagged, decodeCbor, encodeCbor } from '../../src/wire/cbor.js';
import { type EventMessage } from '../../src/wire/event-stream.js';
import { credentials, startTestServer, type TestServer } from '../helpers/server.js';
import { clientFor, hdr, json, rawSubscribeH1, rawSubscribeH2, shardId, streamWithConsumers } from './fan-out-support.js';

/** Checks both CRCs of the first message of a body by hand, independently of the decoder. */
function checkFirstFrame(body: Buffer): void {
  const total = body.readUInt32BE(0);
  assert.ok(body.length >= total, 'the first message arrived whole');
  assert.equal(body.readUInt32BE(8), crc32(body.subarray(0, 8)), 'prelude CRC');
  assert.equal(body.readUInt32BE(total - 4), crc32(body.subarray(0, total - 4)), 'message CRC');
}

function assertInitialResponse(m: EventMessage, contentType = 'application/json'): void {
  assert.equal(hdr(m, ':message-type'), 'event');
  assert.equal(hdr(m, ':event-type'), 'initial-response');
  assert.equal(hdr(m, ':content-type'), contentType);
}

const jsonBody = (ConsumerARN: string, StartingPosition: Record<string, unknown> = { Type: 'LATEST' }, ShardId = shardId(0)) =>
  Buffer.from(JSON.stringify({ ConsumerARN, ShardId, StartingPosition }));

describe('SubscribeToShard on the wire', () => {
  let t: TestServer;
  let k: KinesisClient;
  before(async () => {
    t = await startTestServer({ options: { tls: true, heartbeatMs: 60_000 } });
    k = clientFor(t.eddy.endpoint, 'h2-tls');
  });
  after(async () => {
    k.destroy();
    await t.close();
  });
  const h2c = () => t.eddy.endpoint.replace('https:', 'http:');

  for (const mode of ['h2c', 'h2 over TLS'] as const) {
    it(`over ${mode}: 200 with an event stream whose first message is initial-response`, async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      const sub = await rawSubscribeH2(mode === 'h2c' ? h2c() : t.eddy.endpoint, jsonBody(ConsumerARN));
      try {
        if (mode !== 'h2c') assert.equal(sub.session.alpnProtocol, 'h2');
        assert.equal(sub.status, 200);
        assert.equal(sub.headers['content-type'], 'application/vnd.amazon.eventstream');
        assert.match(String(sub.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);
        await sub.waitMessages(1);
        checkFirstFrame(Buffer.concat(sub.chunks));
        assertInitialResponse(sub.messages[0]!);
        assert.deepEqual(json(sub.messages[0]!), {});

        const put = await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'pk', Data: Buffer.from('hello') }));
        await sub.waitMessages(2);
        const e = sub.messages[1]!;
        assert.equal(hdr(e, ':message-type'), 'event');
        assert.equal(hdr(e, ':event-type'), 'SubscribeToShardEvent');
        assert.equal(hdr(e, ':content-type'), 'application/json');
        const body = json(e) as { Records: Record<string, unknown>[]; ContinuationSequenceNumber: string; MillisBehindLatest: number };
        assert.equal(body.Records.length, 1);
        const r = body.Records[0]!;
        assert.equal(r.SequenceNumber, put.SequenceNumber);
        assert.equal(r.PartitionKey, 'pk');
        assert.equal(Buffer.from(r.Data as string, 'base64').toString(), 'hello');
        // JSON timestamps are epoch seconds (checklist 1.1).
        assert.equal(typeof r.ApproximateArrivalTimestamp, 'number');
        assert.ok(Math.abs((r.ApproximateArrivalTimestamp as number) - Date.now() / 1000) < 60);
        assert.equal(body.ContinuationSequenceNumber, put.SequenceNumber);
        assert.equal(body.MillisBehindLatest, 0);
      } finally {
        sub.close();
      }
    });
  }

  it('answers errors found before the stream starts as ordinary 400 JSON errors', async () => {
    const { StreamARN } = await streamWithConsumers(k);
    const sub = await rawSubscribeH2(h2c(), jsonBody(`${StreamARN}/consumer/nobody:1`));
    try {
      assert.equal(sub.status, 400);
      assert.equal(sub.headers['content-type'], 'application/x-amz-json-1.1');
      await new Promise((r) => sub.stream.once('end', r));
      assert.equal((JSON.parse(Buffer.concat(sub.chunks).toString()) as { __type: string }).__type, 'ResourceNotFoundException');
    } finally {
      sub.close();
    }
  });

  it('over HTTP/1.1: a chunked body, initial-response first, events pushed as they happen', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(k);
    const sub = await rawSubscribeH1(h2c(), jsonBody(ConsumerARN));
    try {
      assert.equal(sub.status, 200);
      assert.equal(sub.headers['content-type'], 'application/vnd.amazon.eventstream');
      assert.equal(sub.headers['transfer-encoding'], 'chunked');
      assert.equal(sub.headers['content-length'], undefined);
      await sub.waitMessages(1);
      checkFirstFrame(Buffer.concat(sub.chunks));
      assertInitialResponse(sub.messages[0]!);
      for (let i = 0; i < 3; i++) {
        await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'pk', Data: Buffer.from(`h1-${i}`) }));
        await sub.waitMessages(2 + i);
        const r = (json(sub.messages[1 + i]!) as { Records: { Data: string }[] }).Records;
        assert.deepEqual(r.map((x) => Buffer.from(x.Data, 'base64').toString()), [`h1-${i}`]);
      }
    } finally {
      sub.close();
    }
  });

  it('serves a Java-SDK-style CBOR request with CBOR events and CBOR exceptions', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(k);
    const sent = Date.now();
    await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'pk', Data: Buffer.from([0, 1, 2, 255]) }));
    // The Java SDK writes timestamps as tag 1 + integer epoch milliseconds (checklist 1.2).
    const body = encodeCbor({ ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'AT_TIMESTAMP', Timestamp: new CborTagged(1, sent - 1000) } });
    const sub = await rawSubscribeH2(h2c(), body, 'application/x-amz-cbor-1.1');
    try {
      assert.equal(sub.status, 200);
      assert.equal(sub.headers['content-type'], 'application/vnd.amazon.eventstream');
      await sub.waitMessages(2);
      checkFirstFrame(Buffer.concat(sub.chunks));
      assertInitialResponse(sub.messages[0]!, 'application/x-amz-cbor-1.1');
      assert.deepEqual({ ...(decodeCbor(sub.messages[0]!.payload) as object) }, {});
      const e = sub.messages[1]!;
      assert.equal(hdr(e, ':event-type'), 'SubscribeToShardEvent');
      assert.equal(hdr(e, ':content-type'), 'application/x-amz-cbor-1.1');
      const ev = decodeCbor(e.payload) as { Records: { Data: Uint8Array; ApproximateArrivalTimestamp: CborTagged; PartitionKey: string }[]; ContinuationSequenceNumber: string; MillisBehindLatest: number };
      assert.equal(ev.Records.length, 1);
      const r = ev.Records[0]!;
      // Blobs are byte strings, timestamps tag 1 + integer milliseconds (what the Java SDK reads).
      assert.ok(r.Data instanceof Uint8Array);
      assert.deepEqual([...r.Data], [0, 1, 2, 255]);
      assert.ok(r.ApproximateArrivalTimestamp instanceof CborTagged);
      assert.equal(r.ApproximateArrivalTimestamp.tag, 1);
      assert.ok(Number.isInteger(r.ApproximateArrivalTimestamp.value));
      assert.ok(Math.abs((r.ApproximateArrivalTimestamp.value as number) - sent) < 60_000);
      assert.match(ev.ContinuationSequenceNumber, /^\d{56}$/);

      await k.send(new DeregisterStreamConsumerCommand({ ConsumerARN }));
      await sub.waitMessages(3);
      const x = sub.messages[2]!;
      assert.equal(hdr(x, ':message-type'), 'exception');
      assert.equal(hdr(x, ':exception-type'), 'ResourceNotFoundException');
      assert.equal(hdr(x, ':content-type'), 'application/x-amz-cbor-1.1');
      assert.match((decodeCbor(x.payload) as { message: string }).message, /deregistered/);
      await new Promise((resolve) => (sub.ended ? resolve(undefined) : sub.stream.once('end', resolve)));
    } finally {
      sub.close();
    }
  });

  it('answers a CBOR request refused before the stream with a CBOR error', async () => {
    const { StreamARN } = await streamWithConsumers(k);
    const sub = await rawSubscribeH2(h2c(), encodeCbor({ ConsumerARN: `${StreamARN}/consumer/x:1`, ShardId: shardId(0), StartingPosition: { Type: 'LATEST' } }), 'application/x-amz-cbor-1.1');
    try {
      assert.equal(sub.status, 400);
      assert.equal(sub.headers['content-type'], 'application/x-amz-cbor-1.1');
      await new Promise((r) => sub.stream.once('end', r));
      assert.equal((decodeCbor(Buffer.concat(sub.chunks)) as { __type: string }).__type, 'ResourceNotFoundException');
    } finally {
      sub.close();
    }
  });
});

/** botocore (boto3's core, which the AWS CLI is built on) reads SubscribeToShard over HTTP/1.1. */
const python = spawnSync('python3', ['-c', 'import botocore'], { stdio: 'ignore' }).status === 0 ? 'python3' : undefined;

const BOTOCORE_SCRIPT = `
import json, sys, botocore.session
endpoint, arn, shard, start = sys.argv[1:5]
s = botocore.session.get_session()
k = s.create_client('kinesis', region_name='us-east-1', endpoint_url=endpoint,
                    aws_access_key_id='${credentials.accessKeyId}', aws_secret_access_key='${credentials.secretAccessKey}')
r = k.subscribe_to_shard(ConsumerARN=arn, ShardId=shard, StartingPosition={'Type': start})
print('subscribed', flush=True)
for e in r['EventStream']:
    ev = e['SubscribeToShardEvent']
    print(json.dumps({'data': [x['Data'].decode() for x in ev['Records']],
                      'csn': ev.get('ContinuationSequenceNumber'),
                      'children': [c['ShardId'] for c in ev.get('ChildShards', [])]}), flush=True)
    if ev['Records'] and start == 'LATEST':
        break
print('done', flush=True)
`;

describe('SubscribeToShard from botocore (HTTP/1.1)', { skip: python ? false : 'python3 with botocore is not installed' }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ options: { heartbeatMs: 60_000 } });
  });
  after(() => t.close());

  function run(args: string[]) {
    const p = spawn(python!, ['-c', BOTOCORE_SCRIPT, t.eddy.endpoint, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let err = '';
    let waiting: (() => void) | undefined;
    p.stdout.setEncoding('utf8');
    let partial = '';
    p.stdout.on('data', (s: string) => {
      partial += s;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      waiting?.();
    });
    p.stderr.on('data', (s: Buffer) => (err += s.toString()));
    const exit = new Promise<number | null>((resolve) => p.on('close', resolve));
    const line = async (pred: (l: string) => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!lines.some(pred)) {
        if (p.exitCode !== null) throw new Error(`botocore exited: ${err}`);
        if (Date.now() > deadline) throw new Error(`botocore timed out: ${lines.join('\n')} ${err}`);
        await new Promise<void>((r) => {
          waiting = r;
          setTimeout(r, 100);
        });
      }
    };
    return { lines, exit, line, stderr: () => err, kill: () => p.kill() };
  }

  it('reads records pushed while subscribed', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(t.kinesis);
    const py = run([ConsumerARN, shardId(0), 'LATEST']);
    try {
      await py.line((l) => l === 'subscribed');
      await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('to python') }));
      assert.equal(await py.exit, 0, py.stderr());
      const events = py.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { data: string[] });
      assert.deepEqual(events.flatMap((e) => e.data), ['to python']);
    } finally {
      py.kill();
    }
  });

  it('reads a closed shard to its end and its ChildShards', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(t.kinesis);
    await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('last words') }));
    await t.kinesis.send(new SplitShardCommand({ StreamName, ShardToSplit: shardId(0), NewStartingHashKey: (1n << 127n).toString() }));
    const py = run([ConsumerARN, shardId(0), 'TRIM_HORIZON']);
    assert.equal(await py.exit, 0, py.stderr());
    const events = py.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { data: string[]; csn: string | null; children: string[] });
    assert.deepEqual(events.flatMap((e) => e.data), ['last words']);
    assert.equal(events.at(-1)!.csn, null);
    assert.deepEqual(events.at(-1)!.children, [shardId(1), shardId(2)]);
    assert.equal(py.lines.at(-1), 'done');
  });
});
