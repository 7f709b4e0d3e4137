import { firehoseErrors } from '../errors.js';
import type { Tag } from '../types.js';
import type { FirehoseContext } from './context.js';

/** Tags per Firehose stream (checklist 4.2). */
export const MAX_TAGS = 50;

export function checkTagList(tags: readonly Tag[]): void {
  const keys = new Set<string>();
  for (const t of tags) {
    if (keys.has(t.Key)) throw firehoseErrors.InvalidArgumentException(`Duplicate tag key ${t.Key}.`);
    keys.add(t.Key);
  }
  if (keys.size > MAX_TAGS) throw firehoseErrors.LimitExceededException(`A Firehose stream can have at most ${MAX_TAGS} tags.`);
}

export async function tagDeliveryStream(input: { DeliveryStreamName: string; Tags: Tag[] }, ctx: FirehoseContext) {
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  checkTagList(input.Tags);
  const merged = new Map(st.meta.tags.map((t) => [t.Key, t.Value]));
  for (const t of input.Tags) merged.set(t.Key, t.Value);
  if (merged.size > MAX_TAGS) {
    throw firehoseErrors.LimitExceededException(
      `Adding these tags would give Firehose ${st.meta.name} ${merged.size} tags; at most ${MAX_TAGS} are allowed.`,
    );
  }
  await svc.update(st, (cur) => {
    const tags = new Map(cur.tags.map((t) => [t.Key, t.Value]));
    for (const t of input.Tags) tags.set(t.Key, t.Value);
    return { ...cur, tags: [...tags].map(([Key, Value]) => (Value === undefined ? { Key } : { Key, Value })) };
  });
  return {};
}

export async function untagDeliveryStream(input: { DeliveryStreamName: string; TagKeys: string[] }, ctx: FirehoseContext) {
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  const drop = new Set(input.TagKeys);
  await svc.update(st, (cur) => ({ ...cur, tags: cur.tags.filter((t) => !drop.has(t.Key)) }));
  return {};
}

/** In the order they were added, paged after ExclusiveStartTagKey; Limit defaults to 50. */
export async function listTagsForDeliveryStream(input: { DeliveryStreamName: string; ExclusiveStartTagKey?: string; Limit?: number }, ctx: FirehoseContext) {
  const st = await ctx.firehose.find(ctx.caller, input.DeliveryStreamName);
  let tags = st.meta.tags;
  if (input.ExclusiveStartTagKey !== undefined) {
    const i = tags.findIndex((t) => t.Key === input.ExclusiveStartTagKey);
    tags = i < 0 ? tags : tags.slice(i + 1);
  }
  const limit = input.Limit ?? MAX_TAGS;
  return {
    Tags: tags.slice(0, limit).map((t) => ({ Key: t.Key, Value: t.Value ?? '' })),
    HasMoreTags: tags.length > limit,
  };
}
