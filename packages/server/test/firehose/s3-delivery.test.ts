import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateDeliveryStreamCommand,
  type ExtendedS3DestinationConfiguration,
  type FirehoseClient,
  PutRecordBatchCommand,
  PutRecordCommand,
  UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { decode, firehoseClient, jsonRecords, keyPattern, listObjects, ROLE, waitFor, waitForObjects } from './helpers.js';

const DELIMITED = { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' as const }] };

/** Lets the pipeline's real-time tick run a few times. */
const settle = () => new Promise((r) => setTimeout(r, 350));

describe('Firehose delivery to the local S3 layout', () => {
  let t: TestServer;
  let fh: FirehoseClient;
  let dataDir: string;
  before(async () => {
    t = await startTestServer({ disk: true, manualClock: true });
    fh = firehoseClient(t.eddy.endpoint);
    dataDir = t.dataDir!;
  });
  after(async () => {
    fh.destroy();
    await t.close();
  });

  async function create(bucket: string, extra: Partial<ExtendedS3DestinationConfiguration> = {}): Promise<string> {
    const name = uniqueName('s3');
    await fh.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${bucket}`, ...extra },
      }),
    );
    return name;
  }

  it('flushes by interval, read by the manual clock, into a GZIP object named as AWS names it', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { CompressionFormat: 'GZIP', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 }, ProcessingConfiguration: DELIMITED });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: jsonRecords(0, 100) }));
    await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('{"i":100}') } }));
    await settle();
    assert.equal(listObjects(dataDir, bucket).length, 0, 'nothing before the interval');
    t.clock!.advance(59_000);
    await settle();
    assert.equal(listObjects(dataDir, bucket).length, 0, 'nothing at 59 s');
    t.clock!.advance(1_000);
    const [obj] = await waitForObjects(dataDir, bucket, 1);
    assert.match(obj!.key, keyPattern(name, 1, '.gz'));
    // The default prefix is the UTC hour of the oldest record, and the suffix carries the same instant.
    const at = new Date(t.clock!.now() - 60_000);
    const hour = `${at.getUTCFullYear()}/${String(at.getUTCMonth() + 1).padStart(2, '0')}/${String(at.getUTCDate()).padStart(2, '0')}/${String(at.getUTCHours()).padStart(2, '0')}/`;
    assert.ok(obj!.key.startsWith(hour), `${obj!.key} starts with ${hour}`);
    const lines = decode(obj!.key, obj!.body).toString().split('\n');
    assert.equal(lines.pop(), '', 'every record ends with the delimiter');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { i: number }).i), Array.from({ length: 101 }, (_, i) => i));
  });

  it('flushes by size before the interval, then the rest by interval, each record once', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 900 }, ProcessingConfiguration: DELIMITED });
    const pad = 'x'.repeat(1000);
    for (let b = 0; b < 3; b++) {
      await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: jsonRecords(b * 500, 500, () => ({ pad })) }));
    }
    // 1,500 records of ~1 KB: one object at 1 MiB, the rest waits for the interval.
    const first = await waitForObjects(dataDir, bucket, 1);
    assert.ok(first[0]!.body.length >= 1024 * 1024, `sealed at SizeInMBs: ${first[0]!.body.length} bytes`);
    await settle();
    assert.equal(listObjects(dataDir, bucket).length, 1);
    t.clock!.advance(900_000);
    const objs = await waitForObjects(dataDir, bucket, 2);
    const seen = objs.flatMap((o) => o.body.toString().trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i)).sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: 1500 }, (_, i) => i));
  });

  it('delivers at once with a zero-second interval, concatenating records without a delimiter', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 0 } });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('ab') }, { Data: Buffer.from('cd') }] }));
    const [obj] = await waitForObjects(dataDir, bucket, 1);
    assert.equal(obj!.body.toString(), 'abcd');
    assert.match(obj!.key, keyPattern(name));
  });

  it('evaluates custom prefixes: timestamps in CustomTimeZone, random strings, and the default time path', async () => {
    const bucket = uniqueName('b');
    // 23:30 UTC on 29 February is 08:30 on 1 March in Tokyo.
    t.clock!.set(Date.UTC(2024, 1, 29, 23, 30, 15));
    const name = await create(bucket, {
      Prefix: "logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/!{timestamp:'h'HH}/!{firehose:random-string}/",
      ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
      CustomTimeZone: 'Asia/Tokyo',
      BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 },
    });
    await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('x') } }));
    const [obj] = await waitForObjects(dataDir, bucket, 1);
    assert.match(obj!.key, keyPattern(name, 1, '', 'logs/year=2024/month=03/day=01/h08/[0-9a-f]{11}/'));
    assert.match(obj!.key, new RegExp(`${name}-1-2024-03-01-08-30-15-`), 'the suffix uses the time zone too');

    const plainBucket = uniqueName('b');
    const plain = await create(plainBucket, { Prefix: 'plain/', BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 } });
    await fh.send(new PutRecordCommand({ DeliveryStreamName: plain, Record: { Data: Buffer.from('y') } }));
    const [p] = await waitForObjects(dataDir, plainBucket, 1);
    // A prefix without a timestamp gets yyyy/MM/dd/HH/ appended (UTC without CustomTimeZone).
    assert.match(p!.key, keyPattern(plain, 1, '', 'plain/2024/02/29/23/'));
    t.clock!.set(Date.now());
  });

  it('compresses with ZIP, Snappy and HADOOP_SNAPPY, and honours FileExtension', async () => {
    const cases = [
      { format: 'ZIP', ext: '.zip' },
      { format: 'Snappy', ext: '.snappy' },
      { format: 'HADOOP_SNAPPY', ext: '.hsnappy' },
      { format: 'GZIP', ext: '.json.gz', FileExtension: '.json.gz' },
    ] as const;
    const payload = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'z'.repeat(i % 50)}`).join('\n');
    for (const c of cases) {
      const bucket = uniqueName('b');
      const name = await create(bucket, {
        CompressionFormat: c.format,
        BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 },
        ...('FileExtension' in c ? { FileExtension: c.FileExtension } : {}),
      });
      await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from(payload) } }));
      const [obj] = await waitForObjects(dataDir, bucket, 1);
      assert.match(obj!.key, keyPattern(name, 1, c.ext), c.format);
      assert.equal(decode(obj!.key, obj!.body).toString(), payload, c.format);
    }
  });

  it('backs up the raw source records when S3BackupMode is Enabled', async () => {
    const bucket = uniqueName('b');
    const backup = uniqueName('bk');
    const name = await create(bucket, {
      ProcessingConfiguration: DELIMITED,
      BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 },
      S3BackupMode: 'Enabled',
      S3BackupConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${backup}`, Prefix: 'raw/', CompressionFormat: 'GZIP', BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 } },
    });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('a') }, { Data: Buffer.from('b') }] }));
    const [main] = await waitForObjects(dataDir, bucket, 1);
    const [bk] = await waitForObjects(dataDir, backup, 1);
    assert.equal(main!.body.toString(), 'a\nb\n');
    assert.match(bk!.key, keyPattern(name, 1, '.gz', 'raw/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    assert.equal(decode(bk!.key, bk!.body).toString(), 'ab', 'the backup holds the records as they came in');
  });

  it('names objects with the new version after UpdateDestination; buffered records keep the old one', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { Prefix: 'v1/', BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 } });
    await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('old') } }));
    await settle();
    await fh.send(
      new UpdateDestinationCommand({
        DeliveryStreamName: name,
        CurrentDeliveryStreamVersionId: '1',
        DestinationId: 'destinationId-000000000001',
        ExtendedS3DestinationUpdate: { Prefix: 'v2/', BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 } },
      }),
    );
    const objs = await waitForObjects(dataDir, bucket, 1);
    assert.match(objs[0]!.key, keyPattern(name, 1, '', 'v1/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    assert.equal(objs[0]!.body.toString(), 'old');
    await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('new') } }));
    const after = await waitForObjects(dataDir, bucket, 2);
    const v2 = after.find((o) => o.key.startsWith('v2/'));
    assert.ok(v2, after.map((o) => o.key).join(', '));
    assert.match(v2.key, keyPattern(name, 2, '', 'v2/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    assert.equal(v2.body.toString(), 'new');
  });

  it('retries a failing S3 write on the clock and delivers once it works', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 } });
    // A file where the bucket directory should be makes every write fail.
    const s3 = join(dataDir, 's3');
    mkdirSync(s3, { recursive: true });
    writeFileSync(join(s3, bucket), 'in the way');
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('r1') }, { Data: Buffer.from('r2') }] }));
    await waitFor(async () => (await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text())).includes(`eddy_firehose_delivery_attempts_total{DeliveryStreamName="${name}",family="DeliveryToS3",outcome="failure"}`), 'a failed attempt');
    rmSync(join(s3, bucket));
    await settle();
    assert.equal(listObjects(dataDir, bucket).length, 0, 'the retry waits for the clock');
    t.clock!.advance(5_000);
    const [obj] = await waitForObjects(dataDir, bucket, 1);
    assert.equal(obj!.body.toString(), 'r1r2');
  });

  it('gives up on data that could not be written for 24 hours', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 5 } });
    const s3 = join(dataDir, 's3');
    mkdirSync(s3, { recursive: true });
    writeFileSync(join(s3, bucket), 'in the way');
    await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('stale') } }));
    const failures = async () => {
      const text = await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text());
      return Number(new RegExp(`eddy_firehose_delivery_attempts_total\\{DeliveryStreamName="${name}",family="DeliveryToS3",outcome="failure"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    await waitFor(async () => (await failures()) >= 1, 'a failed attempt');
    t.clock!.advance(24 * 3_600_000 + 1_000);
    await waitFor(async () => (await failures()) >= 2, 'the attempt after 24 hours');
    rmSync(join(s3, bucket));
    await fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('fresh') } }));
    const [obj] = await waitForObjects(dataDir, bucket, 1);
    t.clock!.advance(10_000);
    await settle();
    assert.deepEqual(
      listObjects(dataDir, bucket).map((o) => o.body.toString()),
      ['fresh'],
    );
    assert.equal(obj!.body.toString(), 'fresh');
  });

  it('exposes delivery metrics with the server\'s other metrics', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, { BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 } });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: jsonRecords(0, 10) }));
    t.clock!.advance(30_000);
    let text = await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text());
    const l = `{DeliveryStreamName="${name}"}`;
    assert.match(text, new RegExp(`aws_firehose_IncomingRecords${escape(l)} 10\\n`));
    assert.match(text, new RegExp(`aws_firehose_IncomingBytes${escape(l)} 70\\n`));
    assert.match(text, new RegExp(`aws_firehose_DeliveryToS3_DataFreshness${escape(l)} 30\\n`), 'the oldest record has waited 30 s');
    t.clock!.advance(30_000);
    await waitForObjects(dataDir, bucket, 1);
    // The object can be visible a moment before the delivery is counted as done.
    const success = new RegExp(`aws_firehose_DeliveryToS3_Success${escape(l)} 1\\n`);
    await waitFor(async () => success.test((text = await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text()))), 'the delivery counted');
    assert.match(text, new RegExp(`aws_firehose_DeliveryToS3_Records${escape(l)} 10\\n`));
    assert.match(text, new RegExp(`aws_firehose_DeliveryToS3_ObjectCount${escape(l)} 1\\n`));
    assert.match(text, new RegExp(`aws_firehose_DeliveryToS3_DataFreshness${escape(l)} 0\\n`));
    assert.match(text, /# TYPE aws_firehose_IncomingRecords counter/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
