import type { DeliveryStreamType } from '../types.js';
import type { FirehoseContext } from './context.js';

interface Input {
  Limit?: number;
  DeliveryStreamType?: DeliveryStreamType;
  ExclusiveStartDeliveryStreamName?: string;
}

/** Names in alphabetical order, paged after ExclusiveStartDeliveryStreamName; Limit defaults to 10 (checklist 4.2). */
export async function listDeliveryStreams(input: Input, ctx: FirehoseContext) {
  const after = input.ExclusiveStartDeliveryStreamName;
  const names = (await ctx.firehose.list(ctx.caller))
    .filter((st) => input.DeliveryStreamType === undefined || st.meta.type === input.DeliveryStreamType)
    .map((st) => st.meta.name)
    .filter((n) => after === undefined || n > after);
  const limit = input.Limit ?? 10;
  return { DeliveryStreamNames: names.slice(0, limit), HasMoreDeliveryStreams: names.length > limit };
}
