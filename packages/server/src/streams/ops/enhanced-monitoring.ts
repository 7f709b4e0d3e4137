import type { OpContext } from '../context.js';

const ALL = [
  'IncomingBytes',
  'IncomingRecords',
  'OutgoingBytes',
  'OutgoingRecords',
  'WriteProvisionedThroughputExceeded',
  'ReadProvisionedThroughputExceeded',
  'IteratorAgeMilliseconds',
] as const;

interface Input {
  StreamName?: string;
  StreamARN?: string;
  ShardLevelMetrics: string[];
}

function expand(metrics: readonly string[]): string[] {
  return metrics.includes('ALL') ? [...ALL] : [...metrics];
}

export async function enableEnhancedMonitoring(input: Input, ctx: OpContext) {
  return change(input, ctx, (cur, req) => [...new Set([...cur, ...req])]);
}

export async function disableEnhancedMonitoring(input: Input, ctx: OpContext) {
  return change(input, ctx, (cur, req) => cur.filter((x) => !req.includes(x)));
}

async function change(input: Input, ctx: OpContext, f: (cur: readonly string[], req: string[]) => string[]) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  svc.requireActive(st);
  const current = [...st.meta.shardLevelMetrics];
  // Kept in the canonical order so Current and Desired compare easily.
  const desired = ALL.filter((x) => f(current, expand(input.ShardLevelMetrics)).includes(x));
  await svc.update(st, (cur) => ({ ...cur, shardLevelMetrics: desired }));
  return { StreamName: st.meta.name, CurrentShardLevelMetrics: current, DesiredShardLevelMetrics: desired, StreamARN: st.meta.arn };
}
