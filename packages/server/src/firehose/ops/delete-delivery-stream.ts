import type { FirehoseContext } from './context.js';

interface Input {
  DeliveryStreamName: string;
  AllowForceDelete?: boolean;
}

export async function deleteDeliveryStream(input: Input, ctx: FirehoseContext) {
  const st = await ctx.firehose.find(ctx.caller, input.DeliveryStreamName);
  await ctx.firehose.delete(st);
  return {};
}
