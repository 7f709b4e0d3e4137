import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { partitionKeyHash } from '../../src/core/hash-key.js';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

for (const transport of ['http2', 'http1'] as const) {
  describe(`data plane over ${transport}`, () => {
    let t: TestServer;
    let k: KinesisClient;
    before(async () => {
      t = await startTestServer();
      k = transport === 'http2' ? t.kinesis : t.kinesis1;
    });
    after(() => t.close());

    it('routes by the MD5 of the partition key and reads back in order', async () => {
      const StreamName = uniqueName();
      await k.send(new CreateStreamCommand({ StreamName, ShardCount: 4 }));
      const { Shards = [] } = await k.send(new ListShardsCommand({ StreamName }));
      assert.equal(Shards.length, 4);
      const sent: { pk: string; seq: string; shard: string }[] = [];
      for (let i = 0; i < 40; i++) {
        const pk = `key-${i}`;
        const r = await k.send(new PutRecordCommand({ StreamName, PartitionKey: pk, Data: Buffer.from(`v${i}`) }));
        const h = partitionKeyHash(pk);
        const owner = Shards.find((s) => BigInt(s.HashKeyRange!.StartingHashKey!) <= h && h <= BigInt(s.HashKeyRange!.EndingHashKey!));
        assert.equal(r.ShardId, owner?.ShardId);
        assert.match(r.SequenceNumber ?? '', /^\d{56}$/);
        assert.equal(r.EncryptionType, 'NONE');
        sent.push({ pk, seq: r.SequenceNumber!, shard: r.ShardId! });
      }
      for (const s of Shards) {
        const { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
        const got = await k.send(new GetRecordsCommand({ ShardIterator }));
        const expected = sent.filter((x) => x.shard === s.ShardId);
        assert.deepEqual(got.Records?.map((r) => r.SequenceNumber), expected.map((x) => x.seq));
        assert.deepEqual(got.Records?.map((r) => r.PartitionKey), expected.map((x) => x.pk));
        assert.equal(got.MillisBehindLatest, 0);
        assert.ok(got.NextShardIterator);
        for (const r of got.Records ?? []) assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
        // Sequence numbers strictly increase within a shard.
        const seqs = (got.Records ?? []).map((r) => BigInt(r.SequenceNumber!));
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!);
      }
    });

    it('PutRecords answers per record, in request order, and honours ExplicitHashKey', async () => {
      const StreamName = uniqueName();
      await k.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
      const Records = Array.from({ length: 500 }, (_, i) => ({
        Data: Buffer.alloc(100, i % 256),
        PartitionKey: `pk-${i}`,
        ...(i % 2 === 0 ? { ExplicitHashKey: '0' } : {}),
      }));
      const r = await k.send(new PutRecordsCommand({ StreamName, Records }));
      assert.equal(r.FailedRecordCount, 0);
      assert.equal(r.Records?.length, 500);
      r.Records?.forEach((x, i) => {
        if (i % 2 === 0) assert.equal(x.ShardId, 'shardId-000000000000');
        assert.match(x.SequenceNumber!, /^\d{56}$/);
      });
      const { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
      const got = await k.send(new GetRecordsCommand({ ShardIterator, Limit: 10 }));
      assert.equal(got.Records?.length, 10);
      assert.deepEqual(Buffer.from(got.Records![0]!.Data!), Buffer.alloc(100, 0));
      assert.ok((got.MillisBehindLatest ?? -1) >= 0);
    });

    it('serves the iterator types AT_/AFTER_SEQUENCE_NUMBER, LATEST and AT_TIMESTAMP', async () => {
      const StreamName = uniqueName();
      await k.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
      const seqs: string[] = [];
      for (let i = 0; i < 5; i++) {
        seqs.push((await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from(String(i)) }))).SequenceNumber!);
      }
      const ShardId = 'shardId-000000000000';
      const read = async (it: Omit<ConstructorParameters<typeof GetShardIteratorCommand>[0], 'StreamName' | 'ShardId'>) => {
        const { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName, ShardId, ...it }));
        return (await k.send(new GetRecordsCommand({ ShardIterator }))).Records?.map((r) => Buffer.from(r.Data!).toString()) ?? [];
      };
      assert.deepEqual(await read({ ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: seqs[2] }), ['2', '3', '4']);
      assert.deepEqual(await read({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: seqs[2] }), ['3', '4']);
      assert.deepEqual(await read({ ShardIteratorType: 'LATEST' }), []);
      assert.deepEqual(await read({ ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() - 60_000) }), ['0', '1', '2', '3', '4']);
      const { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'LATEST' }));
      await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('after') }));
      const got = await k.send(new GetRecordsCommand({ ShardIterator }));
      assert.deepEqual(got.Records?.map((r) => Buffer.from(r.Data!).toString()), ['after']);
    });

    it('describes a stream summary with the model fields', async () => {
      const StreamName = uniqueName();
      await k.send(new CreateStreamCommand({ StreamName, ShardCount: 3 }));
      const { StreamDescriptionSummary: s } = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
      assert.equal(s?.StreamStatus, 'ACTIVE');
      assert.equal(s?.OpenShardCount, 3);
      assert.equal(s?.RetentionPeriodHours, 24);
      assert.equal(s?.StreamARN, `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`);
      assert.equal(s?.StreamModeDetails?.StreamMode, 'PROVISIONED');
      assert.ok(s?.StreamCreationTimestamp instanceof Date);
    });
  });
}
