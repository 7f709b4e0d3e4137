import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateDeliveryStreamCommand, type FirehoseClient } from '@aws-sdk/client-firehose';
import { CreateStreamCommand, ListShardsCommand, PutRecordCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { startEddy } from '../../src/server.js';
import { client, startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { byWriteTime, firehoseClient, listObjects, ROLE, waitFor } from './helpers.js';

interface Line {
  readonly n: number;
  readonly pk: string;
}

function lines(dataDir: string, bucket: string): Line[] {
  return byWriteTime(listObjects(dataDir, bucket)).flatMap((o) =>
    o.body
      .toString()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line),
  );
}

async function putRecords(t: TestServer, stream: string, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i += 500) {
    const batch = Array.from({ length: Math.min(500, from + n - i) }, (_, k) => {
      const pk = `pk-${(i + k) % 17}`;
      return { PartitionKey: pk, Data: Buffer.from(JSON.stringify({ n: i + k, pk })) };
    });
    const r = await t.kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
    assert.equal(r.FailedRecordCount, 0);
  }
}

async function createSourced(fh: FirehoseClient, stream: string, bucket: string): Promise<string> {
  const name = uniqueName('ks');
  await fh.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`, RoleARN: ROLE },
      ExtendedS3DestinationConfiguration: {
        RoleARN: ROLE,
        BucketARN: `arn:aws:s3:::${bucket}`,
        BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
      },
    }),
  );
  return name;
}

/** Every record once; within a partition key (so within a shard), in the order they were put. */
function assertOncePerKeyInOrder(got: readonly Line[], total: number): void {
  const ns = got.map((l) => l.n).sort((a, b) => a - b);
  assert.deepEqual(ns, Array.from({ length: total }, (_, i) => i), 'every record exactly once');
  const last = new Map<string, number>();
  for (const l of got) {
    const prev = last.get(l.pk);
    if (prev !== undefined) assert.ok(l.n > prev, `order of ${l.pk}: ${l.n} after ${prev}`);
    last.set(l.pk, l.n);
  }
}

/** A KPL aggregated record (checklist 2): magic, AggregatedRecord protobuf, MD5 of the protobuf. */
function kplAggregate(partitionKey: string, records: readonly string[]): Buffer {
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    do {
      out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    return Buffer.from(out);
  };
  const field = (tag: number, payload: Buffer): Buffer => Buffer.concat([varint((tag << 3) | 2), varint(payload.length), payload]);
  const parts = [field(1, Buffer.from(partitionKey))];
  for (const r of records) parts.push(field(3, Buffer.concat([varint((1 << 3) | 0), varint(0), field(3, Buffer.from(r))])));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), body, createHash('md5').update(body).digest()]);
}

describe('Firehose KinesisStreamAsSource', () => {
  let t: TestServer;
  let fh: FirehoseClient;
  before(async () => {
    t = await startTestServer({ disk: true });
    fh = firehoseClient(t.eddy.endpoint);
  });
  after(async () => {
    fh.destroy();
    await t.close();
  });

  it('delivers what PutRecords wrote to the stream, once each, in order per shard', async () => {
    const stream = uniqueName('src');
    const bucket = uniqueName('b');
    await t.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
    const name = await createSourced(fh, stream, bucket);
    await putRecords(t, stream, 0, 1200);
    const got = await waitFor(() => {
      const l = lines(t.dataDir!, bucket);
      return l.length >= 1200 ? l : undefined;
    }, '1200 records delivered');
    assertOncePerKeyInOrder(got, 1200);
    const text = await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text());
    assert.match(text, new RegExp(`aws_firehose_DataReadFromKinesisStream_Records\\{DeliveryStreamName="${name}"\\} 1200\\n`));
    assert.match(text, new RegExp(`aws_kinesis_IncomingRecords\\{StreamName="${stream}"\\} 1200\\n`));
  });

  it('follows resharding: children after their parents', async () => {
    const stream = uniqueName('src');
    const bucket = uniqueName('b');
    await t.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await createSourced(fh, stream, bucket);
    await putRecords(t, stream, 0, 300);
    await t.kinesis.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 127n).toString() }));
    const shards = await t.kinesis.send(new ListShardsCommand({ StreamName: stream }));
    assert.equal(shards.Shards?.length, 3);
    await putRecords(t, stream, 300, 300);
    const got = await waitFor(() => {
      const l = lines(t.dataDir!, bucket);
      return l.length >= 600 ? l : undefined;
    }, '600 records delivered');
    // Per partition key, records before the split (parent) come before those after (children).
    assertOncePerKeyInOrder(got, 600);
  });

  it('de-aggregates KPL records read from the stream', async () => {
    const stream = uniqueName('src');
    const bucket = uniqueName('b');
    await t.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await createSourced(fh, stream, bucket);
    const users = ['{"n":0,"pk":"k"}', '{"n":1,"pk":"k"}', '{"n":2,"pk":"k"}'];
    await t.kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: kplAggregate('k', users) }));
    const got = await waitFor(() => {
      const l = lines(t.dataDir!, bucket);
      return l.length >= 3 ? l : undefined;
    }, 'three user records');
    assert.deepEqual(got.map((l) => l.n), [0, 1, 2]);
  });

  it('resumes from its checkpoints after a restart, delivering nothing twice', async () => {
    const ts = await startTestServer({ disk: true });
    const c = firehoseClient(ts.eddy.endpoint);
    const stream = uniqueName('src');
    const bucket = uniqueName('b');
    await ts.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
    await createSourced(c, stream, bucket);
    await putRecords(ts, stream, 0, 200);
    await waitFor(() => lines(ts.dataDir!, bucket).length >= 200, '200 records before the restart');
    c.destroy();
    await ts.eddy.close();
    const again = await startEddy({ port: 0, dataDir: ts.dataDir!, stateDelayMs: 0, throttle: false, log: () => undefined });
    const k = client(again.endpoint);
    try {
      await putRecords({ ...ts, kinesis: k } as TestServer, stream, 200, 200);
      const got = await waitFor(() => {
        const l = lines(ts.dataDir!, bucket);
        return l.length >= 400 ? l : undefined;
      }, '400 records after the restart');
      // Give a duplicate the time to show up.
      await new Promise((r) => setTimeout(r, 1500));
      assertOncePerKeyInOrder(lines(ts.dataDir!, bucket), 400);
      assert.equal(got.length, 400);
    } finally {
      k.destroy();
      await again.close();
      await ts.close();
    }
  });
});
