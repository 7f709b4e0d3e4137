import type { Operation } from './context.js';
import { describeAccountSettings, describeLimits, updateAccountSettings } from './ops/account.js';
import { deregisterStreamConsumer, describeStreamConsumer, listStreamConsumers, registerStreamConsumer } from './ops/consumers.js';
import { createStream } from './ops/create-stream.js';
import { deleteStream } from './ops/delete-stream.js';
import { describeStreamSummary } from './ops/describe-stream-summary.js';
import { describeStream } from './ops/describe-stream.js';
import { disableEnhancedMonitoring, enableEnhancedMonitoring } from './ops/enhanced-monitoring.js';
import { startStreamEncryption, stopStreamEncryption } from './ops/encryption.js';
import { getRecords } from './ops/get-records.js';
import { getShardIterator } from './ops/get-shard-iterator.js';
import { listShards } from './ops/list-shards.js';
import { listStreams } from './ops/list-streams.js';
import { putRecord } from './ops/put-record.js';
import { putRecords } from './ops/put-records.js';
import { mergeShards, splitShard, updateMaxRecordSize, updateShardCount, updateStreamMode, updateStreamWarmThroughput } from './ops/reshard.js';
import { deleteResourcePolicy, getResourcePolicy, putResourcePolicy } from './ops/resource-policy.js';
import { decreaseStreamRetentionPeriod, increaseStreamRetentionPeriod } from './ops/retention.js';
import { subscribeToShard } from './ops/subscribe-to-shard.js';
import { addTagsToStream, listTagsForResource, listTagsForStream, removeTagsFromStream, tagResource, untagResource } from './ops/tags.js';

/**
 * The Kinesis operations Eddy serves, by AWS name. Inputs arrive decoded and validated against
 * the model, so each operation's own Input type describes what it can rely on.
 */
// Each operation narrows its input type; the table erases it once, here.
const op = <I>(f: (input: I, ctx: Parameters<Operation>[1]) => ReturnType<Operation>) => f as unknown as Operation;

export const kinesisOperations: Readonly<Record<string, Operation>> = {
  AddTagsToStream: op(addTagsToStream),
  CreateStream: op(createStream),
  DecreaseStreamRetentionPeriod: op(decreaseStreamRetentionPeriod),
  DeleteResourcePolicy: op(deleteResourcePolicy),
  DeleteStream: op(deleteStream),
  DeregisterStreamConsumer: op(deregisterStreamConsumer),
  DescribeAccountSettings: op(describeAccountSettings),
  DescribeLimits: op(describeLimits),
  DescribeStream: op(describeStream),
  DescribeStreamConsumer: op(describeStreamConsumer),
  DescribeStreamSummary: op(describeStreamSummary),
  DisableEnhancedMonitoring: op(disableEnhancedMonitoring),
  EnableEnhancedMonitoring: op(enableEnhancedMonitoring),
  GetRecords: op(getRecords),
  GetResourcePolicy: op(getResourcePolicy),
  GetShardIterator: op(getShardIterator),
  IncreaseStreamRetentionPeriod: op(increaseStreamRetentionPeriod),
  ListShards: op(listShards),
  ListStreamConsumers: op(listStreamConsumers),
  ListStreams: op(listStreams),
  ListTagsForResource: op(listTagsForResource),
  ListTagsForStream: op(listTagsForStream),
  MergeShards: op(mergeShards),
  PutRecord: op(putRecord),
  PutRecords: op(putRecords),
  PutResourcePolicy: op(putResourcePolicy),
  RegisterStreamConsumer: op(registerStreamConsumer),
  RemoveTagsFromStream: op(removeTagsFromStream),
  SplitShard: op(splitShard),
  StartStreamEncryption: op(startStreamEncryption),
  StopStreamEncryption: op(stopStreamEncryption),
  SubscribeToShard: op(subscribeToShard),
  TagResource: op(tagResource),
  UntagResource: op(untagResource),
  UpdateAccountSettings: op(updateAccountSettings),
  UpdateMaxRecordSize: op(updateMaxRecordSize),
  UpdateShardCount: op(updateShardCount),
  UpdateStreamMode: op(updateStreamMode),
  UpdateStreamWarmThroughput: op(updateStreamWarmThroughput),
};
