import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';
import { StreamMode } from '../types.js';

interface Input {
  StreamName: string;
  ShardCount?: number;
  StreamModeDetails?: { StreamMode: StreamMode };
  Tags?: Record<string, string>;
  WarmThroughputMiBps?: number;
  MaxRecordSizeInKiB?: number;
}

/** Shards a new on-demand stream starts with (4 MiB/s of write capacity: checklist 1.6). */
const ON_DEMAND_INITIAL_SHARDS = 4;

export async function createStream(input: Input, ctx: OpContext) {
  const mode = input.StreamModeDetails?.StreamMode ?? StreamMode.PROVISIONED;
  let shardCount = input.ShardCount;
  if (mode === StreamMode.PROVISIONED && shardCount === undefined) {
    throw errors.InvalidArgumentException('ShardCount is required for streams in PROVISIONED mode.');
  }
  if (mode === StreamMode.ON_DEMAND) {
    if (shardCount !== undefined) {
      throw errors.InvalidArgumentException('ShardCount is not supported for streams in ON_DEMAND mode.');
    }
    shardCount = ON_DEMAND_INITIAL_SHARDS;
  } else if (input.WarmThroughputMiBps !== undefined) {
    throw errors.InvalidArgumentException('WarmThroughputMiBps is only supported for streams in ON_DEMAND mode.');
  }
  if (input.Tags) checkTags(input.Tags, Object.keys(input.Tags).length);
  await ctx.streams.createStream(ctx.caller, {
    name: input.StreamName,
    shardCount: shardCount!,
    mode,
    tags: input.Tags ?? {},
    maxRecordSizeKiB: input.MaxRecordSizeInKiB ?? 1024,
    ...(input.WarmThroughputMiBps !== undefined ? { warmThroughputMiBps: input.WarmThroughputMiBps } : {}),
  });
  return undefined;
}

const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@%]*$/u;

/** Tag rules of CreateStream, AddTagsToStream and TagResource (checklist 1.4, 1.6). */
export function checkTags(tags: Record<string, string>, totalAfter: number): void {
  for (const [k, v] of Object.entries(tags)) {
    if (!TAG_CHARS.test(k) || !TAG_CHARS.test(v)) {
      throw errors.InvalidArgumentException(
        'Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.',
      );
    }
  }
  if (totalAfter > 50) {
    throw errors.LimitExceededException(`Failed to add tags. The total number of tags would be ${totalAfter}, above the limit of 50.`);
  }
}
