/**
 * AWS's limits with throttling on (checklist 1.6), on a manual clock so that "one second" is
 * exactly what the test says: per-shard write and read rates, record and request sizes, account
 * shard and on-demand stream limits, and on-demand scaling driven by `streams.maintain()`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeLimitsCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
  SplitShardCommand,
  UpdateMaxRecordSizeCommand,
  UpdateShardCountCommand,
  UpdateStreamModeCommand,
} from '@aws-sdk/client-kinesis';
import { model } from '../../src/wire/generated/kinesis.js';
import { encodeOutput } from '../../src/wire/shapes.js';
import { rawPost, startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const SHARD0 = 'shardId-000000000000';

/** Asserts an SDK call fails with the given AWS error type (and message, when given). */
async function rejectsWith(p: Promise<unknown>, type: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.name, type, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

const rateExceeded = (stream: string, shard = SHARD0) => `Rate exceeded for shard ${shard} in stream ${stream} under account 000000000000.`;
const small = (n: number, tag: string): PutRecordsRequestEntry[] => Array.from({ length: n }, (_, i) => ({ PartitionKey: 'k', Data: Buffer.from(`${tag}-${i}`) }));
/** `n` bytes that are not all alike, so a mix-up would show. */
const bytes = (n: number, seed: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >> 12)) & 0xff;
  return b;
};

describe('per-shard limits with throttling on (manual clock)', () => {
  let t: TestServer;
  let k: KinesisClient;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { throttle: true } });
    k = t.kinesis;
  });
  after(() => t.close());

  const create = async (shards = 1): Promise<string> => {
    const name = uniqueName('lim');
    await k.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    return name;
  };

  it('1,000 records per second per shard: the 1,001st is throttled, per record in PutRecords', async () => {
    const name = await create();
    for (const tag of ['a', 'b']) {
      const r = await k.send(new PutRecordsCommand({ StreamName: name, Records: small(500, tag) }));
      assert.equal(r.FailedRecordCount, 0);
    }
    const over = await k.send(new PutRecordsCommand({ StreamName: name, Records: small(1, 'c') }));
    assert.equal(over.FailedRecordCount, 1);
    assert.deepEqual(over.Records, [{ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: rateExceeded(name) }]);
    await rejectsWith(k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') })), 'ProvisionedThroughputExceededException', rateExceeded(name));

    t.clock!.advance(1_000);
    const again = await k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') }));
    assert.equal(again.ShardId, SHARD0);
    // 999 tokens left: of 1,000 more records, the first 999 go in and the last is refused, in place.
    const first = await k.send(new PutRecordsCommand({ StreamName: name, Records: small(500, 'd') }));
    const second = await k.send(new PutRecordsCommand({ StreamName: name, Records: small(500, 'e') }));
    assert.equal(first.FailedRecordCount, 0);
    assert.equal(second.FailedRecordCount, 1);
    assert.ok(second.Records!.slice(0, 499).every((r) => r.SequenceNumber !== undefined && r.ErrorCode === undefined));
    assert.equal(second.Records![499]!.ErrorCode, 'ProvisionedThroughputExceededException');
    assert.equal(second.Records![499]!.SequenceNumber, undefined);
  });

  it('answers a PutRecords of placed and throttled records in JSON as the model encoder writes it', async () => {
    const name = await create(2);
    // Shard 0 takes 999 of its 1,000 records; the call below then has one placed and two
    // throttled records there, and records on shard 1 around them.
    const low = (tag: string) => ({ PartitionKey: 'k', ExplicitHashKey: '0', Data: Buffer.from(tag) });
    const fill = Array.from({ length: 999 }, (_, i) => low(`f${i}`));
    for (const part of [fill.slice(0, 500), fill.slice(500)]) assert.equal((await k.send(new PutRecordsCommand({ StreamName: name, Records: part }))).FailedRecordCount, 0);
    const high = { PartitionKey: 'key', ExplicitHashKey: (2n ** 128n - 1n).toString(), Data: 'aGk=' };
    const body = JSON.stringify({
      StreamName: name,
      Records: [high, { ...low(''), Data: 'YQ==' }, { ...low(''), Data: 'Yg==' }, high, { ...low(''), Data: 'Yw==' }],
    });
    const r = await rawPost(t.eddy.endpoint, 'Kinesis_20131202.PutRecords', body);
    assert.equal(r.status, 200, r.text);
    const out = r.json as { FailedRecordCount: number; Records: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string }[] };
    assert.equal(r.text, encodeOutput(model, 'PutRecords', out, 'json').toString('utf8'));
    assert.equal(out.FailedRecordCount, 2);
    assert.deepEqual(out.Records.map((e) => e.ShardId ?? e.ErrorCode), ['shardId-000000000001', SHARD0, 'ProvisionedThroughputExceededException', 'shardId-000000000001', 'ProvisionedThroughputExceededException']);
    // The sequence numbers are those the records are read back with.
    const read = async (shard: string) => {
      const { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }));
      return (await k.send(new GetRecordsCommand({ ShardIterator, Limit: 10_000 }))).Records!;
    };
    const s0 = await read(SHARD0);
    assert.equal(s0.length, 1_000);
    assert.equal(s0[999]!.SequenceNumber, out.Records[1]!.SequenceNumber);
    assert.equal(Buffer.from(s0[999]!.Data!).toString(), 'a');
    const s1 = await read('shardId-000000000001');
    assert.deepEqual(s1.map((x) => x.SequenceNumber), [out.Records[0]!.SequenceNumber, out.Records[3]!.SequenceNumber]);
    assert.deepEqual(s1.map((x) => x.PartitionKey), ['key', 'key']);
  });

  it('1 MiB per second per shard, counting data and partition keys', async () => {
    const name = await create();
    // Four records of exactly 256 KiB each (data plus the one-byte key): exactly 1 MiB.
    const quarter = Array.from({ length: 4 }, (_, i) => ({ PartitionKey: 'k', Data: bytes(256 * KiB - 1, i) }));
    assert.equal((await k.send(new PutRecordsCommand({ StreamName: name, Records: quarter }))).FailedRecordCount, 0);
    await rejectsWith(k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') })), 'ProvisionedThroughputExceededException', rateExceeded(name));

    // Half a second gives back half a MiB: one 300 KiB record fits, the second does not.
    t.clock!.advance(500);
    const half = await k.send(
      new PutRecordsCommand({ StreamName: name, Records: [{ PartitionKey: 'k', Data: bytes(300 * KiB, 1) }, { PartitionKey: 'k', Data: bytes(300 * KiB, 2) }] }),
    );
    assert.equal(half.FailedRecordCount, 1);
    assert.equal(half.Records![0]!.ErrorCode, undefined);
    assert.deepEqual(half.Records![1], { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: rateExceeded(name) });
    // ... but a small one still does.
    await k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: bytes(KiB, 3) }));

    // A record of the full 1 MiB of data (plus its key) is accepted from a full bucket, and the
    // bucket then owes the excess: the next write waits until it is repaid.
    t.clock!.advance(1_000);
    const full = await t.kinesis1.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: bytes(MiB, 4) }));
    assert.equal(full.ShardId, SHARD0);
    await rejectsWith(k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') })), 'ProvisionedThroughputExceededException');
    t.clock!.advance(100);
    await k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') }));
  });

  it('5 GetRecords calls per second per shard: the 6th is throttled', async () => {
    const name = await create();
    await k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('r') }));
    let iterator = (await k.send(new GetShardIteratorCommand({ StreamName: name, ShardId: SHARD0, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    for (let i = 0; i < 5; i++) {
      const r = await k.send(new GetRecordsCommand({ ShardIterator: iterator }));
      assert.equal(r.Records!.length, i === 0 ? 1 : 0);
      iterator = r.NextShardIterator!;
    }
    await rejectsWith(k.send(new GetRecordsCommand({ ShardIterator: iterator })), 'ProvisionedThroughputExceededException', rateExceeded(name));
    t.clock!.advance(1_000);
    const r = await k.send(new GetRecordsCommand({ ShardIterator: iterator }));
    assert.deepEqual(r.Records, []);
  });

  it('5 GetShardIterator calls per second per shard: the 6th is throttled', async () => {
    const name = await create(2);
    const get = (shard = SHARD0) => k.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shard, ShardIteratorType: 'LATEST' }));
    for (let i = 0; i < 5; i++) await get();
    await rejectsWith(get(), 'ProvisionedThroughputExceededException', rateExceeded(name));
    // The limit is per shard: the other shard is untouched.
    await get('shardId-000000000001');
    // 200 ms refill one call.
    t.clock!.advance(200);
    await get();
    await rejectsWith(get(), 'ProvisionedThroughputExceededException');
  });

  it('after UpdateMaxRecordSize, 5 MiB records go in over h2 and HTTP/1.1; a 10 MiB answer then throttles reads for about 5 s', async () => {
    const name = await create();
    const arn = (await k.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!.StreamARN!;
    const big = [bytes(5 * MiB, 10), bytes(5 * MiB - 64, 11)];
    await rejectsWith(
      k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: big[0] })),
      'ValidationException',
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${5 * MiB} cap=${5 * MiB}]' at 'data' failed to satisfy constraint: Member must have length less than or equal to ${MiB}`,
    );
    await k.send(new UpdateMaxRecordSizeCommand({ StreamARN: arn, MaxRecordSizeInKiB: 10240 }));
    assert.equal((await k.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!.MaxRecordSizeInKiB, 10240);

    // Write bursts to 5 MiB from a full bucket; the next large write waits for the debt to go.
    const one = await k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: big[0] }));
    await rejectsWith(t.kinesis1.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: big[1] })), 'ProvisionedThroughputExceededException');
    // 5 s at 1 MiB/s repays the 4 MiB owed and fills the bucket again, but for the key's byte.
    t.clock!.advance(5_000);
    await rejectsWith(t.kinesis1.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: big[1] })), 'ProvisionedThroughputExceededException');
    t.clock!.advance(1);
    const two = await t.kinesis1.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: big[1] }));

    t.clock!.advance(1_000);
    const iterator = (await k.send(new GetShardIteratorCommand({ StreamName: name, ShardId: SHARD0, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    const got = await k.send(new GetRecordsCommand({ ShardIterator: iterator }));
    assert.deepEqual(got.Records!.map((r) => r.SequenceNumber), [one.SequenceNumber, two.SequenceNumber]);
    got.Records!.forEach((r, i) => assert.ok(Buffer.from(r.Data!).equals(big[i]!), `record ${i} bytes`));
    // The call right after a ~10 MiB answer is refused, whatever the transport.
    await rejectsWith(t.kinesis1.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 })), 'ProvisionedThroughputExceededException', rateExceeded(name));
    // Charged in full at 2 MiB/s, the answer keeps the shard closed to reads for 5 s ...
    for (let second = 1; second <= 4; second++) {
      t.clock!.advance(1_000);
      await rejectsWith(k.send(new GetRecordsCommand({ ShardIterator: got.NextShardIterator! })), 'ProvisionedThroughputExceededException', rateExceeded(name));
    }
    t.clock!.advance(999);
    await rejectsWith(k.send(new GetRecordsCommand({ ShardIterator: got.NextShardIterator! })), 'ProvisionedThroughputExceededException', rateExceeded(name));
    // ... and open again once they are over (AWS: "subsequent calls made within the next 5
    // seconds throw ProvisionedThroughputExceededException").
    t.clock!.advance(1);
    // The first 5 MiB record once more, over HTTP/1.1 this time.
    const readable = await t.kinesis1.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }));
    assert.ok(Buffer.from(readable.Records![0]!.Data!).equals(big[0]!));
  });

  it('refuses records over the stream maximum, more than 500 records, and more than 10 MiB per PutRecords', async () => {
    const name = await create(2);
    await rejectsWith(
      k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.alloc(MiB + 1) })),
      'ValidationException',
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${MiB + 1} cap=${MiB + 1}]' at 'data' failed to satisfy constraint: Member must have length less than or equal to ${MiB}`,
    );
    await rejectsWith(
      k.send(new PutRecordsCommand({ StreamName: name, Records: [{ PartitionKey: 'k', Data: Buffer.from('ok') }, { PartitionKey: 'k', Data: Buffer.alloc(MiB + 1) }] })),
      'ValidationException',
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${MiB + 1} cap=${MiB + 1}]' at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to ${MiB}`,
    );
    await rejectsWith(
      k.send(new PutRecordsCommand({ StreamName: name, Records: small(501, 'x') })),
      'ValidationException',
      /^1 validation error detected: Value '.*' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500$/s,
    );
    // Ten records of 1 MiB of data: with their keys, ten bytes over 10 MiB.
    const tooMuch = Array.from({ length: 10 }, (_, i) => ({ PartitionKey: 'k', Data: bytes(MiB, i) }));
    await rejectsWith(t.kinesis1.send(new PutRecordsCommand({ StreamName: name, Records: tooMuch })), 'InvalidArgumentException', /10 MB/);
    // None of it was written.
    const iterator = (await k.send(new GetShardIteratorCommand({ StreamName: name, ShardId: SHARD0, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    assert.deepEqual((await k.send(new GetRecordsCommand({ ShardIterator: iterator }))).Records, []);
  });
});

describe('account limits', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ options: { throttle: true, shardLimit: 10, onDemandStreamCountLimit: 2 } });
  });
  after(() => t.close());

  const shardLimitMessage = (current: number, additional: number) =>
    `This request would exceed the shard limit for the account 000000000000 in us-east-1. Current shard count for the account: ${current}. Limit: 10. Number of additional shards that would have resulted from this request: ${additional}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.`;

  it('refuses shards over the account limit on create, split and scale, and frees them on delete', async () => {
    const k = t.kinesis;
    await rejectsWith(k.send(new CreateStreamCommand({ StreamName: uniqueName('big'), ShardCount: 11 })), 'LimitExceededException', shardLimitMessage(0, 11));
    const six = uniqueName('six');
    await k.send(new CreateStreamCommand({ StreamName: six, ShardCount: 6 }));
    await rejectsWith(k.send(new CreateStreamCommand({ StreamName: uniqueName('five'), ShardCount: 5 })), 'LimitExceededException', shardLimitMessage(6, 5));
    const four = uniqueName('four');
    await k.send(new CreateStreamCommand({ StreamName: four, ShardCount: 4 }));
    const limits = await k.send(new DescribeLimitsCommand({}));
    assert.equal(limits.ShardLimit, 10);
    assert.equal(limits.OpenShardCount, 10);
    assert.equal(limits.OnDemandStreamCountLimit, 2);

    await rejectsWith(
      k.send(new SplitShardCommand({ StreamName: four, ShardToSplit: SHARD0, NewStartingHashKey: (1n << 64n).toString() })),
      'LimitExceededException',
      shardLimitMessage(10, 1),
    );
    await rejectsWith(k.send(new UpdateShardCountCommand({ StreamName: four, TargetShardCount: 6, ScalingType: 'UNIFORM_SCALING' })), 'LimitExceededException', shardLimitMessage(10, 2));
    await k.send(new DeleteStreamCommand({ StreamName: six }));
    await k.send(new SplitShardCommand({ StreamName: four, ShardToSplit: SHARD0, NewStartingHashKey: (1n << 64n).toString() }));
    assert.equal((await k.send(new DescribeLimitsCommand({}))).OpenShardCount, 5);
    await k.send(new DeleteStreamCommand({ StreamName: four }));
  });

  it('refuses on-demand streams over the account limit, on create and on a switch of mode', async () => {
    const k = t.kinesis;
    const onDemand = [uniqueName('od'), uniqueName('od')];
    for (const name of onDemand) await k.send(new CreateStreamCommand({ StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    const message = 'This request would exceed the on-demand stream count limit for the account 000000000000. Current on-demand stream count: 2. Limit: 2.';
    await rejectsWith(k.send(new CreateStreamCommand({ StreamName: uniqueName('od'), StreamModeDetails: { StreamMode: 'ON_DEMAND' } })), 'LimitExceededException', message);
    assert.equal((await k.send(new DescribeLimitsCommand({}))).OnDemandStreamCount, 2);
    const provisioned = uniqueName('prov');
    await k.send(new CreateStreamCommand({ StreamName: provisioned, ShardCount: 1 }));
    const arn = (await k.send(new DescribeStreamSummaryCommand({ StreamName: provisioned }))).StreamDescriptionSummary!.StreamARN!;
    await rejectsWith(k.send(new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } })), 'LimitExceededException', message);
    await k.send(new DeleteStreamCommand({ StreamName: onDemand[0] }));
    await k.send(new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    assert.equal((await k.send(new DescribeLimitsCommand({}))).OnDemandStreamCount, 2);
    for (const name of [onDemand[1]!, provisioned]) await k.send(new DeleteStreamCommand({ StreamName: name }));
  });
});

describe('on-demand scaling', () => {
  // A server of its own: its real-time maintenance timer (10 s) cannot run in the middle.
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { throttle: true } });
  });
  after(() => t.close());

  /** What the real-time timer would do every 10 s, here when the test says. */
  const maintain = (): Promise<void> => t.eddy.streams.maintain();
  const openShards = async (name: string) =>
    ((await t.kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? []).filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);

  it('splits a shard that takes a heavy write rate, and merges back when the stream is idle', async () => {
    const k = t.kinesis;
    const name = uniqueName('ondemand');
    await k.send(new CreateStreamCommand({ StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    assert.equal((await openShards(name)).length, 4);
    // 6,000 records to shard 0 within its limits (1,000 a second of clock time): over half its
    // write capacity for the maintenance interval.
    for (let second = 0; second < 6; second++) {
      for (const half of ['a', 'b']) {
        const r = await k.send(new PutRecordsCommand({ StreamName: name, Records: small(500, `${second}${half}`).map((e) => ({ ...e, ExplicitHashKey: '0' })) }));
        assert.equal(r.FailedRecordCount, 0);
      }
      t.clock!.advance(1_000);
    }
    await maintain();
    const grown = await openShards(name);
    assert.equal(grown.length, 5);
    const children = grown.filter((s) => s.ParentShardId === SHARD0);
    assert.deepEqual(
      children.map((s) => [s.ShardId, s.HashKeyRange]),
      [
        ['shardId-000000000004', { StartingHashKey: '0', EndingHashKey: ((1n << 125n) - 1n).toString() }],
        ['shardId-000000000005', { StartingHashKey: (1n << 125n).toString(), EndingHashKey: ((1n << 126n) - 1n).toString() }],
      ],
    );
    const summary = (await k.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
    assert.equal(summary.StreamStatus, 'ACTIVE');
    assert.equal(summary.OpenShardCount, 5);
    // Writes to that hash range now land in a child.
    const put = await k.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', ExplicitHashKey: '0', Data: Buffer.from('after the split') }));
    assert.equal(put.ShardId, 'shardId-000000000004');

    // An idle interval: the stream shrinks by merging one adjacent pair, back to four ...
    await maintain();
    const shrunk = await openShards(name);
    assert.equal(shrunk.length, 4);
    const merged = shrunk.find((s) => s.ParentShardId === 'shardId-000000000004');
    assert.ok(merged, 'the children merged back');
    assert.equal(merged.AdjacentParentShardId, 'shardId-000000000005');
    assert.deepEqual(merged.HashKeyRange, { StartingHashKey: '0', EndingHashKey: ((1n << 126n) - 1n).toString() });
    // ... and never below four.
    await maintain();
    assert.equal((await openShards(name)).length, 4);
  });
});
