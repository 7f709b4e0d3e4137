import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListStreamConsumersCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  type SubscribeToShardEvent,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

async function setup(k: KinesisClient, shards = 1) {
  const StreamName = uniqueName();
  await k.send(new CreateStreamCommand({ StreamName, ShardCount: shards }));
  const s = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
  const StreamARN = s.StreamDescriptionSummary!.StreamARN!;
  const { Consumer } = await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'app' }));
  return { StreamName, StreamARN, ConsumerARN: Consumer!.ConsumerARN! };
}

/** Collects events until `until` says stop or the stream ends. */
async function collect(k: KinesisClient, ConsumerARN: string, ShardId: string, until: (events: SubscribeToShardEvent[]) => boolean, Type: 'TRIM_HORIZON' | 'LATEST' = 'TRIM_HORIZON') {
  const ac = new AbortController();
  const r = await k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId, StartingPosition: { Type } }), { abortSignal: ac.signal });
  const events: SubscribeToShardEvent[] = [];
  try {
    for await (const e of r.EventStream ?? []) {
      if (e.SubscribeToShardEvent) {
        events.push(e.SubscribeToShardEvent);
        if (until(events)) break;
      }
    }
  } finally {
    ac.abort();
  }
  return events;
}

for (const transport of ['http2', 'http1'] as const) {
  describe(`enhanced fan-out over ${transport}`, () => {
    let t: TestServer;
    let k: KinesisClient;
    before(async () => {
      t = await startTestServer({ options: { heartbeatMs: 200 } });
      k = transport === 'http2' ? t.kinesis : t.kinesis1;
    });
    after(() => t.close());

    it('registers, describes, lists and deregisters consumers', async () => {
      const { StreamName, StreamARN, ConsumerARN } = await setup(k);
      assert.match(ConsumerARN, new RegExp(`^${StreamARN.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/consumer/app:\\d+$`));
      const d = await k.send(new DescribeStreamConsumerCommand({ ConsumerARN }));
      assert.equal(d.ConsumerDescription?.ConsumerStatus, 'ACTIVE');
      assert.equal(d.ConsumerDescription?.StreamARN, StreamARN);
      const byName = await k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'app' }));
      assert.equal(byName.ConsumerDescription?.ConsumerARN, ConsumerARN);
      await assert.rejects(k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'app' })), { name: 'ResourceInUseException' });
      const l = await k.send(new ListStreamConsumersCommand({ StreamARN }));
      assert.deepEqual(l.Consumers?.map((c) => c.ConsumerName), ['app']);
      const s = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
      assert.equal(s.StreamDescriptionSummary?.ConsumerCount, 1);
      await assert.rejects(k.send(new DeleteStreamCommand({ StreamName })), { name: 'ResourceInUseException' });
      await k.send(new DeregisterStreamConsumerCommand({ ConsumerARN }));
      await assert.rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerARN })), { name: 'ResourceNotFoundException' });
      for (let i = 0; i < 20; i++) await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: `c${i}` }));
      await assert.rejects(k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'c20' })), { name: 'LimitExceededException' });
      await k.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: true }));
    });

    it('pushes records as they are written, then idle events with a continuation', async () => {
      const { StreamName, ConsumerARN } = await setup(k);
      await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('first') }));
      const pending = collect(k, ConsumerARN, 'shardId-000000000000', (ev) => ev.flatMap((e) => e.Records ?? []).length >= 3 && ev[ev.length - 1]!.Records!.length === 0);
      setTimeout(() => {
        void k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('second') }));
        void k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('third') }));
      }, 100);
      const events = await pending;
      const data = events.flatMap((e) => e.Records ?? []).map((r) => Buffer.from(r.Data!).toString());
      assert.deepEqual(data, ['first', 'second', 'third']);
      for (const e of events) {
        assert.match(e.ContinuationSequenceNumber ?? '', /^\d{56}$/);
        assert.equal(typeof e.MillisBehindLatest, 'number');
      }
      const records = events.flatMap((e) => e.Records ?? []);
      assert.ok(records[0]!.ApproximateArrivalTimestamp instanceof Date);
    });

    it('refuses a second subscription within 5 seconds', async () => {
      const { ConsumerARN } = await setup(k);
      const ac = new AbortController();
      await k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } }), { abortSignal: ac.signal });
      await assert.rejects(
        k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } })),
        { name: 'ResourceInUseException' },
      );
      ac.abort();
    });

    it('ends a closed shard with ChildShards and no continuation sequence number', async () => {
      const { StreamName, ConsumerARN } = await setup(k, 1);
      await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('x') }));
      await k.send(new SplitShardCommand({ StreamName, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
      const events = await collect(k, ConsumerARN, 'shardId-000000000000', (ev) => (ev[ev.length - 1]?.ChildShards?.length ?? 0) > 0);
      const last = events[events.length - 1]!;
      assert.equal(last.ContinuationSequenceNumber, undefined);
      assert.deepEqual(last.ChildShards?.map((c) => c.ShardId), ['shardId-000000000001', 'shardId-000000000002']);
      assert.deepEqual(events.flatMap((e) => e.Records ?? []).map((r) => Buffer.from(r.Data!).toString()), ['x']);
    });
  });
}
