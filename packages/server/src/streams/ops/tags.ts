import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';
import type { StreamState } from '../service.js';
import { checkTags } from './create-stream.js';

interface StreamInput {
  StreamName?: string;
  StreamARN?: string;
}

async function setTags(ctx: OpContext, st: StreamState, add: Record<string, string>, remove: readonly string[]): Promise<void> {
  const merged: Record<string, string> = { ...st.meta.tags, ...add };
  for (const k of remove) delete merged[k];
  checkTags(add, Object.keys(merged).length);
  await ctx.streams.update(st, (cur) => {
    const tags: Record<string, string> = { ...cur.tags, ...add };
    for (const k of remove) delete tags[k];
    return { ...cur, tags };
  });
}

export async function addTagsToStream(input: StreamInput & { Tags: Record<string, string> }, ctx: OpContext) {
  const st = await ctx.streams.find(ctx.caller, input);
  if (st.meta.status === 'CREATING') {
    throw errors.ResourceInUseException(`Stream ${st.meta.name} under account ${st.meta.accountId} not ACTIVE, instead in state CREATING`);
  }
  await setTags(ctx, st, input.Tags, []);
  return undefined;
}

export async function removeTagsFromStream(input: StreamInput & { TagKeys: string[] }, ctx: OpContext) {
  const st = await ctx.streams.find(ctx.caller, input);
  await setTags(ctx, st, {}, input.TagKeys);
  return undefined;
}

/** Sorted by key, paged after ExclusiveStartTagKey (checklist 1.7). */
export async function listTagsForStream(input: StreamInput & { ExclusiveStartTagKey?: string; Limit?: number }, ctx: OpContext) {
  const st = await ctx.streams.find(ctx.caller, input);
  let keys = Object.keys(st.meta.tags).sort();
  const after = input.ExclusiveStartTagKey;
  if (after !== undefined) keys = keys.filter((k) => k > after);
  const limit = Math.min(input.Limit ?? 50, 50);
  const page = keys.slice(0, limit);
  return { Tags: page.map((Key) => ({ Key, Value: st.meta.tags[Key] ?? '' })), HasMoreTags: keys.length > page.length };
}

/** A stream or consumer ARN of the caller's account (checklist 1.4 ResourceARN). */
export async function resolveResource(ctx: OpContext, arn: string): Promise<{ st: StreamState; consumer?: string }> {
  const m = /^arn:aws[^:]*:kinesis:([^:]+):(\d{12}):stream\/([a-zA-Z0-9_.-]+)(?:\/consumer\/([a-zA-Z0-9_.-]+:\d+))?$/.exec(arn);
  if (!m) throw errors.InvalidArgumentException(`Invalid ResourceARN: ${arn}`);
  const st = await ctx.streams.find(ctx.caller, { StreamARN: `arn:aws:kinesis:${m[1]}:${m[2]}:stream/${m[3]}` });
  if (m[4] !== undefined) {
    const c = st.meta.consumers.find((x) => x.arn === arn);
    if (!c) throw errors.ResourceNotFoundException(`Consumer ${arn} not found.`);
    return { st, consumer: c.arn };
  }
  return { st };
}

export async function tagResource(input: { ResourceARN: string; Tags: Record<string, string> }, ctx: OpContext) {
  const { st, consumer } = await resolveResource(ctx, input.ResourceARN);
  if (consumer === undefined) {
    await setTags(ctx, st, input.Tags, []);
    return undefined;
  }
  const c = st.meta.consumers.find((x) => x.arn === consumer)!;
  const tags = { ...c.tags, ...input.Tags };
  checkTags(input.Tags, Object.keys(tags).length);
  await ctx.streams.update(st, (cur) => ({ ...cur, consumers: cur.consumers.map((x) => (x.arn === consumer ? { ...x, tags } : x)) }));
  return undefined;
}

export async function untagResource(input: { ResourceARN: string; TagKeys: string[] }, ctx: OpContext) {
  const { st, consumer } = await resolveResource(ctx, input.ResourceARN);
  if (consumer === undefined) {
    await setTags(ctx, st, {}, input.TagKeys);
    return undefined;
  }
  await ctx.streams.update(st, (cur) => ({
    ...cur,
    consumers: cur.consumers.map((x) => {
      if (x.arn !== consumer) return x;
      const tags = { ...x.tags };
      for (const k of input.TagKeys) delete tags[k];
      return { ...x, tags };
    }),
  }));
  return undefined;
}

export async function listTagsForResource(input: { ResourceARN: string }, ctx: OpContext) {
  const { st, consumer } = await resolveResource(ctx, input.ResourceARN);
  const tags = consumer === undefined ? st.meta.tags : st.meta.consumers.find((x) => x.arn === consumer)!.tags;
  return { Tags: Object.keys(tags).sort().map((Key) => ({ Key, Value: tags[Key] ?? '' })) };
}
