import { errors } from '../../core/errors.js';
import { parseHashKey } from '../../core/hash-key.js';
import { parseShardId, shardIdOf } from '../../core/ids.js';
import type { OpContext } from '../context.js';
import type { StreamState } from '../service.js';
import { StreamMode, type ShardMeta } from '../types.js';

interface StreamInput {
  StreamName?: string;
  StreamARN?: string;
}

function requireProvisioned(st: StreamState, op: string): void {
  if (st.meta.mode !== StreamMode.PROVISIONED) {
    throw errors.ValidationException(`${op} is only supported for data streams with the provisioned capacity mode.`);
  }
}

function openShard(st: StreamState, id: string): ShardMeta {
  const index = parseShardId(id);
  const s = index === undefined ? undefined : st.shard(index);
  if (!s || s.closedMs !== undefined) {
    throw errors.ResourceNotFoundException(`Could not find shard ${id} in stream ${st.meta.name} under account ${st.meta.accountId}.`);
  }
  return s;
}

export async function splitShard(input: StreamInput & { ShardToSplit: string; NewStartingHashKey: string }, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  requireProvisioned(st, 'SplitShard');
  svc.requireActive(st);
  const shard = openShard(st, input.ShardToSplit);
  const key = parseHashKey(input.NewStartingHashKey);
  const start = BigInt(shard.start);
  const end = BigInt(shard.end);
  if (key === undefined || key <= start + 1n || key >= end) {
    throw errors.InvalidArgumentException(
      `NewStartingHashKey ${input.NewStartingHashKey} used in SplitShard() on shard ${shardIdOf(shard.index)} in stream ${st.meta.name} under account ${st.meta.accountId} is not both greater than one plus the shard's StartingHashKey ${shard.start} and less than the shard's EndingHashKey ${shard.end}.`,
    );
  }
  svc.checkShardLimit(ctx.caller, 1);
  await svc.beginChange(st, { kind: 'split', shard: shard.index, newStartingHashKey: key.toString() });
  return undefined;
}

export async function mergeShards(input: StreamInput & { ShardToMerge: string; AdjacentShardToMerge: string }, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  requireProvisioned(st, 'MergeShards');
  svc.requireActive(st);
  const a = openShard(st, input.ShardToMerge);
  const b = openShard(st, input.AdjacentShardToMerge);
  const adjacent = BigInt(a.end) + 1n === BigInt(b.start) || BigInt(b.end) + 1n === BigInt(a.start);
  if (!adjacent || a.index === b.index) {
    throw errors.InvalidArgumentException(
      `Shards ${shardIdOf(a.index)} and ${shardIdOf(b.index)} in stream ${st.meta.name} under account ${st.meta.accountId} are not an adjacent pair of shards eligible for merging`,
    );
  }
  await svc.beginChange(st, { kind: 'merge', shard: a.index, adjacent: b.index });
  return undefined;
}

/** At most 10 scaling operations per rolling 24 hours, within half to double (checklist 1.6). */
export async function updateShardCount(input: StreamInput & { TargetShardCount: number; ScalingType: string }, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  requireProvisioned(st, 'UpdateShardCount');
  svc.requireActive(st);
  const m = st.meta;
  const current = m.shards.filter((s) => s.closedMs === undefined).length;
  const target = input.TargetShardCount;
  if (target > current * 2) {
    throw errors.InvalidArgumentException(
      `UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: ${current} Target shard count: ${target}`,
    );
  }
  if (target * 2 < current) {
    throw errors.InvalidArgumentException(
      `UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: ${current} Target shard count: ${target}`,
    );
  }
  if (target > 10_000) {
    throw errors.InvalidArgumentException(`UpdateShardCount cannot scale above 10000 shards per stream. Target shard count: ${target}`);
  }
  const recent = svc.recent(m.history.resize);
  if (recent.length >= 10) {
    throw errors.LimitExceededException(
      `Stream ${m.name} under account ${m.accountId} has already been scaled 10 times in the last 24 hours. Try again later.`,
    );
  }
  if (target > current) svc.checkShardLimit(ctx.caller, target - current);
  if (target !== current) {
    await svc.beginChange(st, { kind: 'resize', target }, (cur) => ({
      history: { ...cur.history, resize: [...recent, svc.clock.now()] },
    }));
  }
  return { StreamName: m.name, CurrentShardCount: current, TargetShardCount: target, StreamARN: m.arn };
}

export async function updateStreamMode(
  input: { StreamARN: string; StreamModeDetails: { StreamMode: StreamMode }; WarmThroughputMiBps?: number },
  ctx: OpContext,
) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  svc.requireActive(st);
  const m = st.meta;
  const mode = input.StreamModeDetails.StreamMode;
  if (input.WarmThroughputMiBps !== undefined && mode !== StreamMode.ON_DEMAND) {
    throw errors.InvalidArgumentException('WarmThroughputMiBps can only be set when switching to ON_DEMAND mode.');
  }
  if (mode === m.mode) {
    throw errors.InvalidArgumentException(`Stream ${m.name} under account ${m.accountId} is already in ${mode} mode.`);
  }
  const recent = svc.recent(m.history.mode);
  if (recent.length >= 2) {
    throw errors.LimitExceededException(
      `Stream ${m.name} under account ${m.accountId} has already switched capacity mode twice in the last 24 hours.`,
    );
  }
  if (mode === StreamMode.ON_DEMAND) await svc.checkOnDemandLimit(ctx.caller);
  await svc.beginChange(
    st,
    { kind: 'mode', mode, ...(input.WarmThroughputMiBps !== undefined ? { warmThroughputMiBps: input.WarmThroughputMiBps } : {}) },
    (cur) => ({ history: { ...cur.history, mode: [...recent, svc.clock.now()] } }),
  );
  return undefined;
}

/** On-demand only; warm throughput is capped at 10 GiBps (checklist 1.6). */
export async function updateStreamWarmThroughput(input: StreamInput & { WarmThroughputMiBps: number }, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  const m = st.meta;
  if (m.mode !== StreamMode.ON_DEMAND) {
    throw errors.ValidationException('Warm throughput is only supported for data streams with the on-demand capacity mode.');
  }
  if (input.WarmThroughputMiBps > 10_240) {
    throw errors.InvalidArgumentException(`WarmThroughputMiBps must be at most 10240. Requested: ${input.WarmThroughputMiBps}`);
  }
  svc.requireActive(st);
  const previous = m.warmThroughputMiBps ?? 0;
  await svc.beginChange(st, { kind: 'warm', warmThroughputMiBps: input.WarmThroughputMiBps });
  return {
    StreamARN: m.arn,
    StreamName: m.name,
    WarmThroughput: { TargetMiBps: input.WarmThroughputMiBps, CurrentMiBps: st.meta.status === 'ACTIVE' ? input.WarmThroughputMiBps : previous },
  };
}

export async function updateMaxRecordSize(input: { StreamARN?: string; MaxRecordSizeInKiB: number }, ctx: OpContext) {
  const svc = ctx.streams;
  if (input.MaxRecordSizeInKiB < 1024 || input.MaxRecordSizeInKiB > 10240) {
    throw errors.ValidationException(
      `1 validation error detected: Value '${input.MaxRecordSizeInKiB}' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value between 1024 and 10240`,
    );
  }
  const st = await svc.find(ctx.caller, input);
  svc.requireActive(st);
  await svc.update(st, (cur) => ({ ...cur, maxRecordSizeKiB: input.MaxRecordSizeInKiB }));
  return undefined;
}

