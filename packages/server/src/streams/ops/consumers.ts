import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';
import type { StreamsService, StreamState } from '../service.js';
import type { ConsumerMeta } from '../types.js';
import { checkTags } from './create-stream.js';
import { issueToken, openToken } from './next-token.js';

/** Consumers per stream (Provisioned and On-demand Standard) and at once in CREATING (checklist 1.6). */
export const MAX_CONSUMERS = 20;
const MAX_CREATING = 5;

/** The creation second of the last ARN issued per stream id and consumer name (this process). */
const issuedByService = new WeakMap<StreamsService, Map<string, number>>();

function lastIssued(svc: StreamsService): Map<string, number> {
  let m = issuedByService.get(svc);
  if (!m) issuedByService.set(svc, (m = new Map()));
  return m;
}

function render(c: ConsumerMeta) {
  return { ConsumerName: c.name, ConsumerARN: c.arn, ConsumerStatus: c.status, ConsumerCreationTimestamp: c.createdMs };
}

const CONSUMER_ARN = /^(arn:aws[^:]*:kinesis:[^:]+:\d{12}:stream\/[a-zA-Z0-9_.-]+)\/consumer\/([a-zA-Z0-9_.-]+):(\d+)$/;

/** Finds a consumer by ConsumerARN, or by StreamARN and ConsumerName (checklist 1.7). */
export async function findConsumer(
  ctx: OpContext,
  input: { StreamARN?: string; ConsumerName?: string; ConsumerARN?: string },
  opts: { allowDeleting?: boolean } = {},
): Promise<{ st: StreamState; consumer: ConsumerMeta }> {
  let streamArn = input.StreamARN;
  let name = input.ConsumerName;
  if (input.ConsumerARN !== undefined) {
    const m = CONSUMER_ARN.exec(input.ConsumerARN);
    if (!m) throw errors.InvalidArgumentException(`Invalid ConsumerARN ${input.ConsumerARN}.`);
    if ((streamArn !== undefined && streamArn !== m[1]) || (name !== undefined && name !== m[2])) {
      throw errors.InvalidArgumentException('ConsumerARN does not match the StreamARN and ConsumerName given with it.');
    }
    streamArn = m[1];
    name = m[2];
  } else if (streamArn === undefined || name === undefined) {
    throw errors.InvalidArgumentException('Either ConsumerARN or both StreamARN and ConsumerName must be provided.');
  }
  let st: StreamState;
  try {
    st = await ctx.streams.find(ctx.caller, { StreamARN: streamArn! });
  } catch (e) {
    if (e instanceof Error && e.name === 'ResourceNotFoundException') {
      throw errors.ResourceNotFoundException(`Consumer ${input.ConsumerARN ?? name ?? ''} under stream ${streamArn ?? ''} not found.`);
    }
    throw e;
  }
  const consumer = st.meta.consumers.find((c) => c.name === name && (input.ConsumerARN === undefined || c.arn === input.ConsumerARN));
  if (!consumer || (consumer.status === 'DELETING' && !opts.allowDeleting)) {
    throw errors.ResourceNotFoundException(`Consumer ${input.ConsumerARN ?? name ?? ''} under stream ${st.meta.arn} not found.`);
  }
  return { st, consumer };
}

export async function registerStreamConsumer(input: { StreamARN: string; ConsumerName: string; Tags?: Record<string, string> }, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  const m = st.meta;
  if (m.consumers.some((c) => c.name === input.ConsumerName)) {
    throw errors.ResourceInUseException(`Consumer ${input.ConsumerName} under stream ${m.arn} already exists.`);
  }
  if (m.consumers.length >= MAX_CONSUMERS) {
    throw errors.LimitExceededException(`Stream ${m.arn} already has ${m.consumers.length} registered consumers, the maximum.`);
  }
  if (m.consumers.filter((c) => c.status === 'CREATING').length >= MAX_CREATING) {
    throw errors.LimitExceededException(`Stream ${m.arn} already has ${MAX_CREATING} consumers in CREATING state.`);
  }
  if (input.Tags) checkTags(input.Tags, Object.keys(input.Tags).length);
  const now = svc.clock.now();
  // Consumer ARNs carry the creation time, so a re-registered name gets a new ARN (checklist 1.4).
  // Within the same second (possible here, where deregistration can be immediate) the second is
  // bumped past the last one issued for the name, so that no ARN ever names two consumers.
  const issued = lastIssued(svc);
  const nameKey = `${m.id}/${input.ConsumerName}`;
  const nowSec = Math.floor(now / 1000);
  const sec = Math.max(nowSec, (issued.get(nameKey) ?? -1) + 1);
  // Only seconds not yet past can collide; the rest is forgotten.
  if (issued.size > 100) for (const [k, v] of issued) if (v < nowSec) issued.delete(k);
  issued.set(nameKey, sec);
  const consumer: ConsumerMeta = {
    name: input.ConsumerName,
    arn: `${m.arn}/consumer/${input.ConsumerName}:${sec}`,
    createdMs: now,
    status: 'CREATING',
    dueMs: now + svc.options.stateDelayMs,
    tags: input.Tags ?? {},
  };
  await svc.update(st, (cur) => ({ ...cur, consumers: [...cur.consumers, consumer] }));
  await svc.settle(st);
  const now2 = st.meta.consumers.find((c) => c.arn === consumer.arn) ?? consumer;
  return { Consumer: render(now2) };
}

export async function deregisterStreamConsumer(input: { StreamARN?: string; ConsumerName?: string; ConsumerARN?: string }, ctx: OpContext) {
  const svc = ctx.streams;
  const { st, consumer } = await findConsumer(ctx, input);
  await svc.update(st, (cur) => ({
    ...cur,
    consumers: cur.consumers.map((c) => (c.arn === consumer.arn ? { ...c, status: 'DELETING' as const, dueMs: svc.clock.now() + svc.options.stateDelayMs } : c)),
  }));
  // Its subscriptions end at once, with the error a new call would get (checklist 1.3).
  svc.endSubscriptions(consumer.arn, errors.ResourceNotFoundException(`Consumer ${consumer.arn} under stream ${st.meta.arn} was deregistered.`));
  await svc.settle(st);
  return undefined;
}

export async function describeStreamConsumer(input: { StreamARN?: string; ConsumerName?: string; ConsumerARN?: string }, ctx: OpContext) {
  const { st, consumer } = await findConsumer(ctx, input, { allowDeleting: true });
  return { ConsumerDescription: { ...render(consumer), StreamARN: st.meta.arn } };
}

export async function listStreamConsumers(input: { StreamARN: string; NextToken?: string; MaxResults?: number; StreamCreationTimestamp?: number }, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  if (input.StreamCreationTimestamp !== undefined && Math.floor(input.StreamCreationTimestamp / 1000) !== Math.floor(st.meta.createdMs / 1000)) {
    throw errors.ResourceNotFoundException(`Stream ${st.meta.arn} with the specified creation timestamp not found.`);
  }
  let after = '';
  if (input.NextToken !== undefined) {
    const tok = openToken<{ streamId: number; after: string }>(svc, 'consumers', input.NextToken);
    if (tok.streamId !== st.meta.id) throw errors.InvalidArgumentException('Invalid NextToken.');
    after = tok.after;
  }
  const all = [...st.meta.consumers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).filter((c) => c.name > after);
  const limit = Math.min(input.MaxResults ?? 100, 10_000);
  const page = all.slice(0, limit);
  const last = page[page.length - 1];
  return {
    Consumers: page.map(render),
    ...(all.length > page.length && last ? { NextToken: issueToken(svc, 'consumers', { streamId: st.meta.id, after: last.name }) } : {}),
  };
}
