import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  type Shard,
  SplitShardCommand,
  UpdateShardCountCommand,
} from '@aws-sdk/client-kinesis';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

async function drain(k: KinesisClient, StreamName: string, ShardId: string) {
  const { ShardIterator } = await k.send(new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
  let it = ShardIterator;
  const data: string[] = [];
  for (let i = 0; i < 20 && it; i++) {
    const r = await k.send(new GetRecordsCommand({ ShardIterator: it }));
    data.push(...(r.Records ?? []).map((x) => Buffer.from(x.Data!).toString()));
    if (!r.NextShardIterator) return { data, childShards: r.ChildShards ?? [] };
    it = r.NextShardIterator;
  }
  return { data, childShards: undefined };
}

describe('resharding', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { stateDelayMs: 1000 } });
  });
  after(() => t.close());

  const active = async (StreamName: string) => {
    t.clock!.advance(1000);
    const s = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
  };

  it('goes CREATING then ACTIVE after the state delay', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const s = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s.StreamDescriptionSummary?.StreamStatus, 'CREATING');
    await assert.rejects(t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'a', Data: Buffer.from('x') })), { name: 'ResourceNotFoundException' });
    await active(StreamName);
  });

  it('splits a shard: parent closes, children carry lineage, reads end with ChildShards', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
    await active(StreamName);
    await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'a', Data: Buffer.from('before'), ExplicitHashKey: '5' }));
    await t.kinesis.send(new SplitShardCommand({ StreamName, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '85070591730234615865843651857942052864' }));
    const during = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(during.StreamDescriptionSummary?.StreamStatus, 'UPDATING');
    await assert.rejects(
      t.kinesis.send(new SplitShardCommand({ StreamName, ShardToSplit: 'shardId-000000000001', NewStartingHashKey: '255211775190703847597530955573826158592' })),
      { name: 'ResourceInUseException', message: `Stream ${StreamName} under account 000000000000 not ACTIVE, instead in state UPDATING` },
    );
    // Writes continue while UPDATING, to the parent.
    await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'a', Data: Buffer.from('during'), ExplicitHashKey: '5' }));
    await active(StreamName);
    const after = await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'a', Data: Buffer.from('after'), ExplicitHashKey: '5' }));
    assert.equal(after.ShardId, 'shardId-000000000002');
    const { Shards = [] } = await t.kinesis.send(new ListShardsCommand({ StreamName }));
    const byId = new Map(Shards.map((s: Shard) => [s.ShardId, s]));
    assert.ok(byId.get('shardId-000000000000')?.SequenceNumberRange?.EndingSequenceNumber);
    assert.equal(byId.get('shardId-000000000002')?.ParentShardId, 'shardId-000000000000');
    assert.equal(byId.get('shardId-000000000003')?.ParentShardId, 'shardId-000000000000');
    assert.equal(byId.get('shardId-000000000002')?.HashKeyRange?.EndingHashKey, '85070591730234615865843651857942052863');
    assert.equal(byId.get('shardId-000000000003')?.HashKeyRange?.StartingHashKey, '85070591730234615865843651857942052864');
    const parent = await drain(t.kinesis, StreamName, 'shardId-000000000000');
    assert.deepEqual(parent.data, ['before', 'during']);
    assert.deepEqual(parent.childShards?.map((c) => c.ShardId), ['shardId-000000000002', 'shardId-000000000003']);
    for (const c of parent.childShards ?? []) assert.deepEqual(c.ParentShards, ['shardId-000000000000']);
    const open = await t.kinesis.send(new ListShardsCommand({ StreamName, ShardFilter: { Type: 'AT_LATEST' } }));
    assert.deepEqual(open.Shards?.map((s) => s.ShardId), ['shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
  });

  it('merges adjacent shards and refuses non-adjacent ones', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 3 }));
    await active(StreamName);
    await assert.rejects(
      t.kinesis.send(new MergeShardsCommand({ StreamName, ShardToMerge: 'shardId-000000000000', AdjacentShardToMerge: 'shardId-000000000002' })),
      { name: 'InvalidArgumentException', message: `Shards shardId-000000000000 and shardId-000000000002 in stream ${StreamName} under account 000000000000 are not an adjacent pair of shards eligible for merging` },
    );
    await t.kinesis.send(new MergeShardsCommand({ StreamName, ShardToMerge: 'shardId-000000000000', AdjacentShardToMerge: 'shardId-000000000001' }));
    await active(StreamName);
    const { Shards = [] } = await t.kinesis.send(new ListShardsCommand({ StreamName }));
    const child = Shards.find((s) => s.ShardId === 'shardId-000000000003');
    assert.equal(child?.ParentShardId, 'shardId-000000000000');
    assert.equal(child?.AdjacentParentShardId, 'shardId-000000000001');
    assert.equal(child?.HashKeyRange?.StartingHashKey, '0');
    for (const parentId of ['shardId-000000000000', 'shardId-000000000001']) {
      const d = await drain(t.kinesis, StreamName, parentId);
      assert.deepEqual(d.childShards?.map((c) => [c.ShardId, c.ParentShards]), [['shardId-000000000003', ['shardId-000000000000', 'shardId-000000000001']]]);
    }
  });

  it('scales uniformly with UpdateShardCount, keeping every closed shard linked to children', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 3 }));
    await active(StreamName);
    await assert.rejects(t.kinesis.send(new UpdateShardCountCommand({ StreamName, TargetShardCount: 7, ScalingType: 'UNIFORM_SCALING' })), { name: 'InvalidArgumentException' });
    const r = await t.kinesis.send(new UpdateShardCountCommand({ StreamName, TargetShardCount: 5, ScalingType: 'UNIFORM_SCALING' }));
    assert.equal(r.CurrentShardCount, 3);
    assert.equal(r.TargetShardCount, 5);
    await active(StreamName);
    const { Shards = [] } = await t.kinesis.send(new ListShardsCommand({ StreamName }));
    const open = Shards.filter((s) => !s.SequenceNumberRange?.EndingSequenceNumber).sort((a, b) => (BigInt(a.HashKeyRange!.StartingHashKey!) < BigInt(b.HashKeyRange!.StartingHashKey!) ? -1 : 1));
    assert.equal(open.length, 5);
    const step = (1n << 128n) / 5n;
    open.forEach((s, i) => assert.equal(BigInt(s.HashKeyRange!.StartingHashKey!), BigInt(i) * step));
    const closed = Shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber);
    for (const c of closed) {
      assert.ok(Shards.some((s) => s.ParentShardId === c.ShardId || s.AdjacentParentShardId === c.ShardId), `${c.ShardId} has children`);
    }
    const s = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s.StreamDescriptionSummary?.OpenShardCount, 5);
  });
});
