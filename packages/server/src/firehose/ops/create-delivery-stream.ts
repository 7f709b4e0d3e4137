import { parseStreamArn } from '../../core/ids.js';
import { destinationFromCreate } from '../config.js';
import { firehoseErrors } from '../errors.js';
import { DeliveryStreamType, type Tag } from '../types.js';
import type { FirehoseContext } from './context.js';
import { checkEncryptionInput, type EncryptionInput } from './encryption-input.js';
import { checkTagList } from './tags.js';

interface Input extends Record<string, unknown> {
  DeliveryStreamName: string;
  DeliveryStreamType?: DeliveryStreamType;
  DirectPutSourceConfiguration?: { ThroughputHintInMBs: number };
  KinesisStreamSourceConfiguration?: { KinesisStreamARN: string; RoleARN: string };
  DeliveryStreamEncryptionConfigurationInput?: EncryptionInput;
  Tags?: Tag[];
}

const invalid = firehoseErrors.InvalidArgumentException;

export async function createDeliveryStream(input: Input, ctx: FirehoseContext) {
  const type = input.DeliveryStreamType ?? DeliveryStreamType.DirectPut;
  if (type === DeliveryStreamType.MSKAsSource || type === DeliveryStreamType.DatabaseAsSource) {
    throw invalid(`DeliveryStreamType ${type} is not supported by this endpoint.`);
  }
  if (input.MSKSourceConfiguration !== undefined || input.DatabaseSourceConfiguration !== undefined) {
    throw invalid('MSKSourceConfiguration and DatabaseSourceConfiguration are not supported by this endpoint.');
  }
  const kinesis = input.KinesisStreamSourceConfiguration;
  if (type === DeliveryStreamType.KinesisStreamAsSource) {
    if (kinesis === undefined) throw invalid('KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource.');
    if (input.DirectPutSourceConfiguration !== undefined) throw invalid('DirectPutSourceConfiguration cannot be specified for a KinesisStreamAsSource Firehose stream.');
  } else if (kinesis !== undefined) {
    throw invalid('KinesisStreamSourceConfiguration can only be specified when DeliveryStreamType is KinesisStreamAsSource.');
  }
  const enc = input.DeliveryStreamEncryptionConfigurationInput;
  if (enc !== undefined && type !== DeliveryStreamType.DirectPut) {
    throw invalid('Server-side encryption is supported only for Firehose streams whose source is Direct PUT.');
  }
  const encryption = enc === undefined ? undefined : checkEncryptionInput(enc, ctx.caller.region);
  const tags = input.Tags ?? [];
  checkTagList(tags);
  const destination = destinationFromCreate(input);
  if (kinesis !== undefined) await checkSourceStream(kinesis.KinesisStreamARN, ctx);
  const meta = await ctx.firehose.create(ctx.caller, {
    name: input.DeliveryStreamName,
    type,
    destination,
    ...(input.DirectPutSourceConfiguration ? { directPut: input.DirectPutSourceConfiguration } : {}),
    ...(kinesis ? { kinesisSource: { KinesisStreamARN: kinesis.KinesisStreamARN, RoleARN: kinesis.RoleARN } } : {}),
    ...(encryption ? { encryption } : {}),
    tags,
  });
  return { DeliveryStreamARN: meta.arn };
}

/** The source stream must exist (and be the caller's) when the Firehose stream is created. */
async function checkSourceStream(arn: string, ctx: FirehoseContext): Promise<void> {
  const parsed = parseStreamArn(arn);
  if (!parsed || parsed.consumerName !== undefined) throw invalid(`KinesisStreamARN ${arn} is not a valid Kinesis stream ARN.`);
  if (parsed.accountId !== ctx.caller.accountId) {
    throw invalid(`Kinesis stream ${arn} belongs to another account; the source stream must be in account ${ctx.caller.accountId}.`);
  }
  try {
    await ctx.kinesis.call('DescribeStreamSummary', { StreamARN: arn }, { accountId: parsed.accountId, region: parsed.region });
  } catch (e) {
    if (e instanceof Error && e.name === 'ResourceNotFoundException') throw invalid(`Kinesis stream ${arn} does not exist.`);
    throw e;
  }
}
