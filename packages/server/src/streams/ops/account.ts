import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';
import { StreamMode } from '../types.js';

export async function describeLimits(_input: unknown, ctx: OpContext) {
  const svc = ctx.streams;
  const streams = await svc.list(ctx.caller);
  return {
    ShardLimit: svc.options.shardLimit,
    OpenShardCount: svc.openShardCount(ctx.caller),
    OnDemandStreamCount: streams.filter((s) => s.meta.mode === StreamMode.ON_DEMAND).length,
    OnDemandStreamCountLimit: svc.options.onDemandStreamCountLimit,
  };
}

interface Commitment {
  Status: 'ENABLED' | 'DISABLED' | 'ENABLED_UNTIL_EARLIEST_ALLOWED_END';
  StartedAt?: number;
  EndedAt?: number;
  EarliestAllowedEndAt?: number;
}

/** A minimum throughput billing commitment lasts at least 24 hours once enabled. */
const MIN_COMMITMENT_MS = 24 * 3_600_000;

function key(ctx: OpContext): string {
  return `account/${ctx.caller.accountId}/${ctx.caller.region}`;
}

async function current(ctx: OpContext): Promise<Commitment> {
  const v = await ctx.streams.meta.get<Commitment>(key(ctx));
  const c = v?.value ?? { Status: 'DISABLED' };
  if (c.Status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' && c.EarliestAllowedEndAt !== undefined && ctx.streams.clock.now() >= c.EarliestAllowedEndAt) {
    return { ...c, Status: 'DISABLED', EndedAt: c.EarliestAllowedEndAt };
  }
  return c;
}

export async function describeAccountSettings(_input: unknown, ctx: OpContext) {
  return { MinimumThroughputBillingCommitment: await current(ctx) };
}

export async function updateAccountSettings(input: { MinimumThroughputBillingCommitment: { Status: 'ENABLED' | 'DISABLED' } }, ctx: OpContext) {
  const now = ctx.streams.clock.now();
  const c = await current(ctx);
  let next: Commitment;
  if (input.MinimumThroughputBillingCommitment.Status === 'ENABLED') {
    next = c.Status === 'ENABLED' ? c : { Status: 'ENABLED', StartedAt: now, EarliestAllowedEndAt: now + MIN_COMMITMENT_MS };
  } else {
    if (c.Status === 'DISABLED') {
      throw errors.InvalidArgumentException('Minimum throughput billing commitment is not enabled for this account.');
    }
    const end = c.EarliestAllowedEndAt ?? now;
    next = end > now ? { ...c, Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' } : { ...c, Status: 'DISABLED', EndedAt: now };
  }
  await ctx.streams.meta.put(key(ctx), next);
  return { MinimumThroughputBillingCommitment: next };
}
