import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  type FirehoseClient,
  ListDeliveryStreamsCommand,
  ListTagsForDeliveryStreamCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
  StartDeliveryStreamEncryptionCommand,
  StopDeliveryStreamEncryptionCommand,
  TagDeliveryStreamCommand,
  UntagDeliveryStreamCommand,
  UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { CreateStreamCommand } from '@aws-sdk/client-kinesis';
import { startEddy } from '../../src/server.js';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { firehoseClient, ROLE } from './helpers.js';

const s3 = (bucket = 'api-bucket') => ({ RoleARN: ROLE, BucketARN: `arn:aws:s3:::${bucket}` });

async function rejects(p: Promise<unknown>, name: string, message?: RegExp): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & Record<string, unknown>;
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

describe('Firehose API', () => {
  let t: TestServer;
  let fh: FirehoseClient;
  before(async () => {
    t = await startTestServer();
    fh = firehoseClient(t.eddy.endpoint);
  });
  after(async () => {
    fh.destroy();
    await t.close();
  });

  it('creates, describes, lists and deletes a DirectPut stream to S3', async () => {
    const name = uniqueName('fh');
    const created = await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: s3() }));
    assert.equal(created.DeliveryStreamARN, `arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`);
    const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }))).DeliveryStreamDescription!;
    assert.equal(d.DeliveryStreamName, name);
    assert.equal(d.DeliveryStreamStatus, 'ACTIVE');
    assert.equal(d.DeliveryStreamType, 'DirectPut');
    assert.equal(d.VersionId, '1');
    assert.equal(d.HasMoreDestinations, false);
    assert.ok(d.CreateTimestamp instanceof Date);
    assert.deepEqual(d.DeliveryStreamEncryptionConfiguration, { Status: 'DISABLED' });
    assert.equal(d.Destinations?.length, 1);
    const dest = d.Destinations![0]!;
    assert.equal(dest.DestinationId, 'destinationId-000000000001');
    const ext = dest.ExtendedS3DestinationDescription!;
    assert.equal(ext.BucketARN, 'arn:aws:s3:::api-bucket');
    assert.deepEqual(ext.BufferingHints, { SizeInMBs: 5, IntervalInSeconds: 300 });
    assert.equal(ext.CompressionFormat, 'UNCOMPRESSED');
    assert.equal(ext.S3BackupMode, 'Disabled');
    assert.deepEqual(ext.EncryptionConfiguration, { NoEncryptionConfig: 'NoEncryption' });
    assert.equal(dest.S3DestinationDescription?.BucketARN, 'arn:aws:s3:::api-bucket');

    const listed = await fh.send(new ListDeliveryStreamsCommand({ Limit: 10000 }));
    assert.ok(listed.DeliveryStreamNames!.includes(name));

    await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name }));
    await rejects(fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name })), 'ResourceNotFoundException', new RegExp(`Firehose ${name} under account 000000000000 not found`));
  });

  it('refuses a second stream of the same name, bad names and destination counts other than one', async () => {
    const name = uniqueName('fh');
    await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: s3() }));
    await rejects(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: s3() })), 'ResourceInUseException', /already exists/);
    await rejects(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'bad name!', ExtendedS3DestinationConfiguration: s3() })), 'ValidationException', /deliveryStreamName/);
    await rejects(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'x'.repeat(65), ExtendedS3DestinationConfiguration: s3() })), 'ValidationException', /length less than or equal to 64/);
    await rejects(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: uniqueName('fh') })), 'InvalidArgumentException', /Exactly one destination/);
    await rejects(
      fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: uniqueName('fh'), ExtendedS3DestinationConfiguration: s3(), S3DestinationConfiguration: s3() })),
      'InvalidArgumentException',
      /Exactly one destination/,
    );
  });

  it('answers ResourceNotFoundException for every operation on an unknown stream', async () => {
    const DeliveryStreamName = uniqueName('missing');
    const msg = new RegExp(`^Firehose ${DeliveryStreamName} under account 000000000000 not found\\.$`);
    await rejects(fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName })), 'ResourceNotFoundException', msg);
    await rejects(fh.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.from('x') } })), 'ResourceNotFoundException', msg);
    await rejects(fh.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: [{ Data: Buffer.from('x') }] })), 'ResourceNotFoundException', msg);
    await rejects(fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName })), 'ResourceNotFoundException', msg);
    await rejects(fh.send(new TagDeliveryStreamCommand({ DeliveryStreamName, Tags: [{ Key: 'k', Value: 'v' }] })), 'ResourceNotFoundException', msg);
    await rejects(fh.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName })), 'ResourceNotFoundException', msg);
    await rejects(
      fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '1', DestinationId: 'destinationId-000000000001', ExtendedS3DestinationUpdate: {} })),
      'ResourceNotFoundException',
      msg,
    );
  });

  it('applies the record and batch limits: 1,000 KiB per record, 500 records and 4 MiB per batch', async () => {
    const DeliveryStreamName = uniqueName('fh');
    await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName, ExtendedS3DestinationConfiguration: s3() }));
    const batch = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: Array.from({ length: 500 }, (_, i) => ({ Data: Buffer.from(`r${i}`) })) }));
    assert.equal(batch.FailedPutCount, 0);
    assert.equal(batch.RequestResponses?.length, 500);
    assert.equal(new Set(batch.RequestResponses!.map((r) => r.RecordId)).size, 500);
    assert.equal(batch.Encrypted, false);
    await rejects(
      fh.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: Array.from({ length: 501 }, () => ({ Data: Buffer.from('x') })) })),
      'ValidationException',
      /length less than or equal to 500/,
    );
    await rejects(fh.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: [] })), 'ValidationException', /length greater than or equal to 1/);
    await rejects(fh.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.alloc(1_024_001) } })), 'ValidationException', /1024000/);
    const one = await fh.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.alloc(1_024_000) } }));
    assert.ok(one.RecordId);
    await rejects(
      fh.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: Array.from({ length: 5 }, () => ({ Data: Buffer.alloc(1_000_000) })) })),
      'InvalidArgumentException',
      /exceeds the limit of 4194304 bytes/,
    );
  });

  it('pages ListDeliveryStreams alphabetically and filters by type', async () => {
    const p = uniqueName('lst');
    const names = [`${p}-c`, `${p}-a`, `${p}-b`];
    for (const n of names) await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: n, ExtendedS3DestinationConfiguration: s3() }));
    const all = (await fh.send(new ListDeliveryStreamsCommand({ Limit: 10000 }))).DeliveryStreamNames!;
    const mine = all.filter((n) => n.startsWith(p));
    assert.deepEqual(mine, [`${p}-a`, `${p}-b`, `${p}-c`]);
    assert.deepEqual([...all].sort(), all);
    const page = await fh.send(new ListDeliveryStreamsCommand({ Limit: 1, ExclusiveStartDeliveryStreamName: `${p}-a` }));
    assert.deepEqual(page.DeliveryStreamNames, [`${p}-b`]);
    assert.equal(page.HasMoreDeliveryStreams, true);
    const kinesisOnly = await fh.send(new ListDeliveryStreamsCommand({ DeliveryStreamType: 'KinesisStreamAsSource', Limit: 10000 }));
    assert.ok(!kinesisOnly.DeliveryStreamNames!.some((n) => n.startsWith(p)));
    const def = await fh.send(new ListDeliveryStreamsCommand({}));
    assert.ok(def.DeliveryStreamNames!.length <= 10);
  });

  it('checks VersionId and DestinationId in UpdateDestination and merges updates of the same type', async () => {
    const DeliveryStreamName = uniqueName('upd');
    await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName, ExtendedS3DestinationConfiguration: { ...s3(), Prefix: 'one/', CompressionFormat: 'GZIP' } }));
    const DestinationId = 'destinationId-000000000001';
    await rejects(
      fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '2', DestinationId, ExtendedS3DestinationUpdate: { Prefix: 'two/' } })),
      'ConcurrentModificationException',
      /current version id: 1 and specified version id: 2 do not match/,
    );
    await rejects(
      fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '1', DestinationId: 'destinationId-000000000002', ExtendedS3DestinationUpdate: { Prefix: 'two/' } })),
      'InvalidArgumentException',
    );
    await fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '1', DestinationId, ExtendedS3DestinationUpdate: { Prefix: 'two/', BufferingHints: { IntervalInSeconds: 60 } } }));
    const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!;
    assert.equal(d.VersionId, '2');
    assert.ok(d.LastUpdateTimestamp instanceof Date);
    const ext = d.Destinations![0]!.ExtendedS3DestinationDescription!;
    assert.equal(ext.Prefix, 'two/');
    assert.equal(ext.CompressionFormat, 'GZIP', 'members the update leaves out are kept');
    assert.deepEqual(ext.BufferingHints, { SizeInMBs: 5, IntervalInSeconds: 60 });
    // The old version id is stale now.
    await rejects(
      fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '1', DestinationId, ExtendedS3DestinationUpdate: { Prefix: 'three/' } })),
      'ConcurrentModificationException',
    );
    // S3DestinationUpdate applies to an S3 destination too.
    await fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '2', DestinationId, S3DestinationUpdate: { Prefix: 'four/' } }));
    const d3 = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!;
    assert.equal(d3.VersionId, '3');
    assert.equal(d3.Destinations![0]!.ExtendedS3DestinationDescription!.Prefix, 'four/');
    // A change of type needs everything the new type requires.
    await rejects(
      fh.send(new UpdateDestinationCommand({ DeliveryStreamName, CurrentDeliveryStreamVersionId: '3', DestinationId, HttpEndpointDestinationUpdate: { BufferingHints: { SizeInMBs: 1 } } })),
      'InvalidArgumentException',
      /requires EndpointConfiguration, S3Configuration/,
    );
  });

  it('tags, lists tags with paging and untags', async () => {
    const DeliveryStreamName = uniqueName('tag');
    await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName, ExtendedS3DestinationConfiguration: s3(), Tags: [{ Key: 'a', Value: '1' }] }));
    await fh.send(new TagDeliveryStreamCommand({ DeliveryStreamName, Tags: [{ Key: 'b', Value: '2' }, { Key: 'c', Value: '3' }, { Key: 'a', Value: '9' }] }));
    const all = await fh.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName }));
    assert.deepEqual(all.Tags, [{ Key: 'a', Value: '9' }, { Key: 'b', Value: '2' }, { Key: 'c', Value: '3' }]);
    assert.equal(all.HasMoreTags, false);
    const page = await fh.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName, ExclusiveStartTagKey: 'a', Limit: 1 }));
    assert.deepEqual(page.Tags, [{ Key: 'b', Value: '2' }]);
    assert.equal(page.HasMoreTags, true);
    await fh.send(new UntagDeliveryStreamCommand({ DeliveryStreamName, TagKeys: ['a', 'c'] }));
    assert.deepEqual((await fh.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName }))).Tags, [{ Key: 'b', Value: '2' }]);
    const many = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await rejects(fh.send(new TagDeliveryStreamCommand({ DeliveryStreamName, Tags: many })), 'LimitExceededException');
    await rejects(fh.send(new TagDeliveryStreamCommand({ DeliveryStreamName, Tags: [{ Key: 'aws:reserved', Value: 'v' }] })), 'ValidationException');
  });

  it('starts and stops server-side encryption', async () => {
    const DeliveryStreamName = uniqueName('sse');
    await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName, ExtendedS3DestinationConfiguration: s3() }));
    await fh.send(new StartDeliveryStreamEncryptionCommand({ DeliveryStreamName, DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' } }));
    let d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!;
    assert.deepEqual(d.DeliveryStreamEncryptionConfiguration, { KeyType: 'AWS_OWNED_CMK', Status: 'ENABLED' });
    const put = await fh.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.from('secret') } }));
    assert.equal(put.Encrypted, true);
    await fh.send(new StopDeliveryStreamEncryptionCommand({ DeliveryStreamName }));
    d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!;
    assert.equal(d.DeliveryStreamEncryptionConfiguration?.Status, 'DISABLED');
    await rejects(
      fh.send(new StartDeliveryStreamEncryptionCommand({ DeliveryStreamName, DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK' } })),
      'InvalidArgumentException',
      /KeyARN is required/,
    );
    const e = await rejects(
      fh.send(
        new StartDeliveryStreamEncryptionCommand({
          DeliveryStreamName,
          DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: 'arn:aws:kms:eu-west-3:000000000000:key/0f3e1c2a-1111-2222-3333-444455556666' },
        }),
      ),
      'InvalidKMSResourceException',
    );
    assert.equal(e.code, 'KMS.NotFoundException');
    await fh.send(
      new StartDeliveryStreamEncryptionCommand({
        DeliveryStreamName,
        DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: 'arn:aws:kms:us-east-1:000000000000:key/0f3e1c2a-1111-2222-3333-444455556666' },
      }),
    );
    d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!;
    assert.equal(d.DeliveryStreamEncryptionConfiguration?.KeyType, 'CUSTOMER_MANAGED_CMK');
    assert.equal(d.DeliveryStreamEncryptionConfiguration?.Status, 'ENABLED');
  });

  it('refuses PutRecord on a KinesisStreamAsSource stream, and a source stream that does not exist', async () => {
    const stream = uniqueName('src');
    await t.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`;
    await rejects(
      fh.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: uniqueName('fh'),
          DeliveryStreamType: 'KinesisStreamAsSource',
          KinesisStreamSourceConfiguration: { KinesisStreamARN: `${arn}-nope`, RoleARN: ROLE },
          ExtendedS3DestinationConfiguration: s3(),
        }),
      ),
      'InvalidArgumentException',
      /does not exist/,
    );
    await rejects(
      fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: uniqueName('fh'), DeliveryStreamType: 'KinesisStreamAsSource', ExtendedS3DestinationConfiguration: s3() })),
      'InvalidArgumentException',
      /KinesisStreamSourceConfiguration is required/,
    );
    const DeliveryStreamName = uniqueName('fh');
    await fh.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName,
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: { KinesisStreamARN: arn, RoleARN: ROLE },
        ExtendedS3DestinationConfiguration: s3(),
      }),
    );
    const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!;
    assert.equal(d.DeliveryStreamType, 'KinesisStreamAsSource');
    assert.equal(d.Source?.KinesisStreamSourceDescription?.KinesisStreamARN, arn);
    assert.ok(d.Source?.KinesisStreamSourceDescription?.DeliveryStartTimestamp instanceof Date);
    await rejects(
      fh.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.from('x') } })),
      'InvalidArgumentException',
      /This operation is not permitted on KinesisStreamAsSource delivery stream type\./,
    );
    await rejects(fh.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: [{ Data: Buffer.from('x') }] })), 'InvalidArgumentException');
    await rejects(fh.send(new StartDeliveryStreamEncryptionCommand({ DeliveryStreamName })), 'InvalidArgumentException');
  });

  it('applies the prefix rules', async () => {
    const create = (c: Record<string, unknown>) =>
      fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: uniqueName('pfx'), ExtendedS3DestinationConfiguration: { ...s3(), ...c } }));
    await rejects(create({ Prefix: 'x/!{timestamp:yyyy}/' }), 'InvalidArgumentException', /ErrorOutputPrefix cannot be null/);
    await rejects(create({ Prefix: 'x/', ErrorOutputPrefix: 'err/!{timestamp:yyyy}/' }), 'InvalidArgumentException', /error-output-type/);
    await rejects(create({ Prefix: 'x/!{firehose:error-output-type}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/' }), 'InvalidArgumentException', /Prefix cannot contain/);
    await rejects(create({ Prefix: 'x/!{nope:x}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/' }), 'InvalidArgumentException', /unknown namespace/);
    await rejects(create({ Prefix: 'x/!{partitionKeyFromQuery:id}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/' }), 'InvalidArgumentException', /dynamic partitioning/);
    await rejects(create({ CustomTimeZone: 'Mars/Olympus' }), 'InvalidArgumentException', /time zone/);
    await create({ Prefix: 'x/!{timestamp:yyyy}/!{firehose:random-string}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/' });
  });

  it('throttles DirectPut beyond its quota with ServiceUnavailableException (HTTP 503)', async () => {
    const ts = await startTestServer({ manualClock: true, options: { throttle: true } });
    // The region comes from the request's signature.
    const c = firehoseClient(ts.eddy.endpoint, false, 'eu-central-1');
    try {
      const DeliveryStreamName = uniqueName('slow');
      await c.send(new CreateDeliveryStreamCommand({ DeliveryStreamName, ExtendedS3DestinationConfiguration: s3() }));
      assert.match((await c.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!.DeliveryStreamARN!, /:eu-central-1:/);
      // Outside the three big regions a stream takes 1 MiB/s.
      const big = Array.from({ length: 3 }, () => ({ Data: Buffer.alloc(400_000) }));
      const r = await c.send(new PutRecordBatchCommand({ DeliveryStreamName, Records: big }));
      assert.equal(r.FailedPutCount, 1);
      assert.equal(r.RequestResponses![2]!.ErrorCode, 'ServiceUnavailableException');
      assert.equal(r.RequestResponses![2]!.ErrorMessage, 'Slow down.');
      const e = await rejects(c.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.alloc(400_000) } })), 'ServiceUnavailableException', /Slow down/);
      assert.equal((e.$metadata as { httpStatusCode?: number }).httpStatusCode, 503);
      ts.clock!.advance(1000);
      await c.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.alloc(400_000) } }));
    } finally {
      c.destroy();
      await ts.close();
    }
  });

  it('goes CREATING then ACTIVE after the state delay, refusing records and deletion meanwhile', async () => {
    const ts = await startTestServer({ manualClock: true, options: { stateDelayMs: 5000 } });
    const c = firehoseClient(ts.eddy.endpoint);
    try {
      const DeliveryStreamName = uniqueName('slow');
      await c.send(new CreateDeliveryStreamCommand({ DeliveryStreamName, ExtendedS3DestinationConfiguration: s3() }));
      assert.equal((await c.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!.DeliveryStreamStatus, 'CREATING');
      await rejects(c.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.from('x') } })), 'ResourceNotFoundException');
      await rejects(c.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName })), 'ResourceInUseException');
      ts.clock!.advance(5000);
      assert.equal((await c.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!.DeliveryStreamStatus, 'ACTIVE');
      await c.send(new PutRecordCommand({ DeliveryStreamName, Record: { Data: Buffer.from('x') } }));
      await c.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName }));
      assert.equal((await c.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName }))).DeliveryStreamDescription!.DeliveryStreamStatus, 'DELETING');
      ts.clock!.advance(5000);
      await rejects(c.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName })), 'ResourceNotFoundException');
    } finally {
      c.destroy();
      await ts.close();
    }
  });

  it('keeps delivery streams across a restart', async () => {
    const ts = await startTestServer({ disk: true });
    const name = uniqueName('keep');
    let c = firehoseClient(ts.eddy.endpoint);
    await c.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: s3(), Tags: [{ Key: 'k', Value: 'v' }] }));
    c.destroy();
    await ts.eddy.close();
    const again = await startEddy({ port: 0, dataDir: ts.dataDir!, stateDelayMs: 0, throttle: false, log: () => undefined });
    c = firehoseClient(again.endpoint);
    try {
      const d = (await c.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }))).DeliveryStreamDescription!;
      assert.equal(d.DeliveryStreamStatus, 'ACTIVE');
      assert.deepEqual((await c.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName: name }))).Tags, [{ Key: 'k', Value: 'v' }]);
      // A new stream after the restart gets its own log.
      const other = uniqueName('keep');
      await c.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: other, ExtendedS3DestinationConfiguration: s3() }));
    } finally {
      c.destroy();
      await again.close();
      await ts.close();
    }
  });
});
