import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteResourcePolicyCommand,
  DeleteStreamCommand,
  DescribeAccountSettingsCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  DisableEnhancedMonitoringCommand,
  EnableEnhancedMonitoringCommand,
  GetResourcePolicyCommand,
  IncreaseStreamRetentionPeriodCommand,
  ListShardsCommand,
  ListStreamsCommand,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  PutResourcePolicyCommand,
  RemoveTagsFromStreamCommand,
  TagResourceCommand,
  UpdateAccountSettingsCommand,
  UpdateMaxRecordSizeCommand,
  UpdateStreamModeCommand,
  paginateListStreams,
} from '@aws-sdk/client-kinesis';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

async function rejects(p: Promise<unknown>, name: string, message?: RegExp | string): Promise<void> {
  await assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

describe('control plane', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('creates, lists with paging, and deletes streams', async () => {
    const prefix = uniqueName('list');
    const names = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);
    for (const StreamName of names) await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    await rejects(t.kinesis.send(new CreateStreamCommand({ StreamName: names[0], ShardCount: 1 })), 'ResourceInUseException', `Stream ${names[0]} under account 000000000000 already exists.`);
    const seen: string[] = [];
    for await (const page of paginateListStreams({ client: t.kinesis, pageSize: 3 }, {})) {
      assert.ok((page.StreamNames?.length ?? 0) <= 3);
      seen.push(...(page.StreamNames ?? []));
      for (const s of page.StreamSummaries ?? []) assert.equal(s.StreamStatus, 'ACTIVE');
    }
    for (const n of names) assert.ok(seen.includes(n));
    for (const StreamName of names) await t.kinesis.send(new DeleteStreamCommand({ StreamName }));
    await rejects(t.kinesis.send(new DescribeStreamCommand({ StreamName: names[0] })), 'ResourceNotFoundException', `Stream ${names[0]} under account 000000000000 not found.`);
  });

  it('pages ListShards with NextToken and refuses a token with a stream name', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 5 }));
    const ids: string[] = [];
    let page = await t.kinesis.send(new ListShardsCommand({ StreamName, MaxResults: 2 }));
    ids.push(...(page.Shards ?? []).map((s) => s.ShardId!));
    while (page.NextToken) {
      page = await t.kinesis.send(new ListShardsCommand({ NextToken: page.NextToken, MaxResults: 2 }));
      assert.ok((page.Shards?.length ?? 0) <= 2);
      ids.push(...(page.Shards ?? []).map((s) => s.ShardId!));
    }
    assert.deepEqual(ids, [0, 1, 2, 3, 4].map((i) => `shardId-00000000000${i}`));
    const first = await t.kinesis.send(new ListShardsCommand({ StreamName, MaxResults: 2 }));
    assert.ok(first.NextToken);
    await rejects(t.kinesis.send(new ListShardsCommand({ StreamName, NextToken: first.NextToken })), 'InvalidArgumentException', 'NextToken and StreamName cannot be provided together.');
    await rejects(t.kinesis.send(new ListShardsCommand({})), 'InvalidArgumentException', 'Either NextToken or StreamName should be provided.');
    const d = await t.kinesis.send(new DescribeStreamCommand({ StreamName, Limit: 2 }));
    assert.equal(d.StreamDescription?.Shards?.length, 2);
    assert.equal(d.StreamDescription?.HasMoreShards, true);
  });

  it('changes retention within AWS bounds with its messages', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    await t.kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 48 }));
    await rejects(
      t.kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 30 })),
      'InvalidArgumentException',
      `Requested retention period (30 hours) for stream ${StreamName} can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.`,
    );
    await rejects(
      t.kinesis.send(new DecreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 23 })),
      'InvalidArgumentException',
      'Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.',
    );
    await t.kinesis.send(new DecreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 24 }));
    const s = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s.StreamDescriptionSummary?.RetentionPeriodHours, 24);
  });

  it('keeps stream tags and resource tags, sorted, with the 50-tag limit', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1, Tags: { b: '2' } }));
    await t.kinesis.send(new AddTagsToStreamCommand({ StreamName, Tags: { a: '1', c: '3' } }));
    await t.kinesis.send(new RemoveTagsFromStreamCommand({ StreamName, TagKeys: ['c', 'zzz'] }));
    const tags = await t.kinesis.send(new ListTagsForStreamCommand({ StreamName }));
    assert.deepEqual(tags.Tags, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }]);
    assert.equal(tags.HasMoreTags, false);
    const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`;
    await t.kinesis.send(new TagResourceCommand({ ResourceARN: arn, Tags: { d: '4' } }));
    const rt = await t.kinesis.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
    assert.deepEqual(rt.Tags?.map((x) => x.Key), ['a', 'b', 'd']);
    const many = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`k${i}`, 'v']));
    await rejects(t.kinesis.send(new AddTagsToStreamCommand({ StreamName, Tags: many })), 'LimitExceededException');
    await rejects(t.kinesis.send(new AddTagsToStreamCommand({ StreamName, Tags: { 'bad#': 'x' } })), 'InvalidArgumentException');
  });

  it('turns enhanced monitoring on and off, reporting current and desired metrics', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const on = await t.kinesis.send(new EnableEnhancedMonitoringCommand({ StreamName, ShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'] }));
    assert.deepEqual(on.CurrentShardLevelMetrics, []);
    assert.deepEqual(on.DesiredShardLevelMetrics, ['IncomingBytes', 'OutgoingBytes']);
    const all = await t.kinesis.send(new EnableEnhancedMonitoringCommand({ StreamName, ShardLevelMetrics: ['ALL'] }));
    assert.equal(all.DesiredShardLevelMetrics?.length, 7);
    const off = await t.kinesis.send(new DisableEnhancedMonitoringCommand({ StreamName, ShardLevelMetrics: ['ALL'] }));
    assert.deepEqual(off.DesiredShardLevelMetrics, []);
    const d = await t.kinesis.send(new DescribeStreamCommand({ StreamName }));
    assert.deepEqual(d.StreamDescription?.EnhancedMonitoring, [{ ShardLevelMetrics: [] }]);
  });

  it('answers DescribeLimits and account settings', async () => {
    const l = await t.kinesis.send(new DescribeLimitsCommand({}));
    assert.equal(l.ShardLimit, 500);
    assert.equal(l.OnDemandStreamCountLimit, 50);
    assert.ok((l.OpenShardCount ?? 0) >= 0);
    const a = await t.kinesis.send(new DescribeAccountSettingsCommand({}));
    assert.equal(a.MinimumThroughputBillingCommitment?.Status, 'DISABLED');
    const u = await t.kinesis.send(new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } }));
    assert.equal(u.MinimumThroughputBillingCommitment?.Status, 'ENABLED');
    assert.ok(u.MinimumThroughputBillingCommitment?.StartedAt instanceof Date);
  });

  it('stores and returns resource policies', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const ResourceARN = `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`;
    const Policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kinesis:GetRecords', Resource: ResourceARN }] });
    await t.kinesis.send(new PutResourcePolicyCommand({ ResourceARN, Policy }));
    assert.equal((await t.kinesis.send(new GetResourcePolicyCommand({ ResourceARN }))).Policy, Policy);
    await t.kinesis.send(new DeleteResourcePolicyCommand({ ResourceARN }));
    assert.equal((await t.kinesis.send(new GetResourcePolicyCommand({ ResourceARN }))).Policy, '{}');
    await rejects(t.kinesis.send(new PutResourcePolicyCommand({ ResourceARN, Policy: 'not json' })), 'InvalidArgumentException');
  });

  it('creates on-demand streams and switches modes', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    const s = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s.StreamDescriptionSummary?.StreamModeDetails?.StreamMode, 'ON_DEMAND');
    assert.equal(s.StreamDescriptionSummary?.OpenShardCount, 4);
    const StreamARN = s.StreamDescriptionSummary!.StreamARN!;
    await t.kinesis.send(new UpdateStreamModeCommand({ StreamARN, StreamModeDetails: { StreamMode: 'PROVISIONED' } }));
    const s2 = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s2.StreamDescriptionSummary?.StreamModeDetails?.StreamMode, 'PROVISIONED');
    assert.equal(s2.StreamDescriptionSummary?.OpenShardCount, 4);
    await t.kinesis.send(new UpdateMaxRecordSizeCommand({ StreamARN, MaxRecordSizeInKiB: 10240 }));
    const s3 = await t.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(s3.StreamDescriptionSummary?.MaxRecordSizeInKiB, 10240);
  });
});
