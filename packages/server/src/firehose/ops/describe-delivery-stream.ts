import { describeDestination } from '../config.js';
import { FIRST_DESTINATION_ID } from '../types.js';
import type { FirehoseContext } from './context.js';

interface Input {
  DeliveryStreamName: string;
  Limit?: number;
  ExclusiveStartDestinationId?: string;
}

export async function describeDeliveryStream(input: Input, ctx: FirehoseContext) {
  const st = await ctx.firehose.find(ctx.caller, input.DeliveryStreamName);
  const m = st.meta;
  // A Firehose stream has exactly one destination; paging past it gives none.
  const destinations =
    input.ExclusiveStartDestinationId !== undefined && input.ExclusiveStartDestinationId >= FIRST_DESTINATION_ID
      ? []
      : [{ DestinationId: FIRST_DESTINATION_ID, ...describeDestination(m.destination) }];
  let source: Record<string, unknown> | undefined;
  if (m.kinesisSource) {
    source = {
      KinesisStreamSourceDescription: {
        KinesisStreamARN: m.kinesisSource.KinesisStreamARN,
        RoleARN: m.kinesisSource.RoleARN,
        DeliveryStartTimestamp: m.kinesisSource.deliveryStartMs,
      },
    };
  } else if (m.directPut) {
    source = { DirectPutSourceDescription: m.directPut };
  }
  const e = m.encryption;
  return {
    DeliveryStreamDescription: {
      DeliveryStreamName: m.name,
      DeliveryStreamARN: m.arn,
      DeliveryStreamStatus: m.status,
      DeliveryStreamEncryptionConfiguration: e ? { KeyType: e.KeyType, KeyARN: e.KeyARN, Status: e.Status } : { Status: 'DISABLED' },
      DeliveryStreamType: m.type,
      VersionId: String(m.versionId),
      CreateTimestamp: m.createdMs,
      LastUpdateTimestamp: m.updatedMs,
      Source: source,
      Destinations: destinations,
      HasMoreDestinations: false,
    },
  };
}
