import type { OpContext } from '../context.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  EnforceConsumerDeletion?: boolean;
}

export async function deleteStream(input: Input, ctx: OpContext) {
  const st = await ctx.streams.find(ctx.caller, input);
  await ctx.streams.deleteStream(st, input.EnforceConsumerDeletion === true);
  return undefined;
}
