import { errors } from '../../core/errors.js';
import { parseShardId } from '../../core/ids.js';
import type { OpContext } from '../context.js';
import type { StreamState } from '../service.js';
import type { ShardMeta } from '../types.js';
import { issueToken, openToken } from './next-token.js';
import { renderShard, sortedShards } from './render.js';

interface ShardFilter {
  Type: 'AFTER_SHARD_ID' | 'AT_TRIM_HORIZON' | 'FROM_TRIM_HORIZON' | 'AT_LATEST' | 'AT_TIMESTAMP' | 'FROM_TIMESTAMP';
  ShardId?: string;
  Timestamp?: number;
}

interface Input {
  StreamName?: string;
  StreamARN?: string;
  NextToken?: string;
  ExclusiveStartShardId?: string;
  MaxResults?: number;
  StreamCreationTimestamp?: number;
  ShardFilter?: ShardFilter;
}

interface TokenState extends Record<string, unknown> {
  streamId: number;
  after: number;
  filter?: ShardFilter;
}

export async function listShards(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  let st: StreamState;
  let after = -1;
  let filter = input.ShardFilter;
  if (input.NextToken !== undefined) {
    // The token carries everything; AWS refuses it together with these (checklist 1.7).
    if (input.StreamName !== undefined || input.StreamARN !== undefined) {
      throw errors.InvalidArgumentException('NextToken and StreamName cannot be provided together.');
    }
    if (input.ExclusiveStartShardId !== undefined) {
      throw errors.InvalidArgumentException('NextToken and ExclusiveStartShardId cannot be provided together.');
    }
    if (input.StreamCreationTimestamp !== undefined) {
      throw errors.InvalidArgumentException('NextToken and StreamCreationTimestamp cannot be provided together.');
    }
    const tok = openToken<TokenState>(svc, 'shards', input.NextToken);
    const found = await svc.byId(tok.streamId);
    if (!found) throw errors.ResourceNotFoundException('The stream of this NextToken no longer exists.');
    st = found;
    after = tok.after;
    filter = tok.filter;
  } else {
    if (input.StreamName === undefined && input.StreamARN === undefined) {
      throw errors.InvalidArgumentException('Either NextToken or StreamName should be provided.');
    }
    st = await svc.find(ctx.caller, input, { allowDeleting: true });
    if (input.StreamCreationTimestamp !== undefined && Math.floor(input.StreamCreationTimestamp / 1000) !== Math.floor(st.meta.createdMs / 1000)) {
      throw errors.ResourceNotFoundException(`Stream ${st.meta.name} under account ${st.meta.accountId} with the specified creation timestamp not found.`);
    }
    if (input.ExclusiveStartShardId !== undefined) after = parseShardId(input.ExclusiveStartShardId) ?? -1;
  }
  if (st.meta.status === 'CREATING') {
    throw errors.ResourceInUseException(`Stream ${st.meta.name} under account ${st.meta.accountId} is in CREATING state.`);
  }
  let shards = sortedShards(svc.liveShards(st));
  if (filter) shards = applyFilter(ctx, st, shards, filter);
  if (filter?.Type === 'AFTER_SHARD_ID') {
    if (filter.ShardId === undefined) throw errors.InvalidArgumentException('ShardFilter of type AFTER_SHARD_ID requires a ShardId.');
    after = Math.max(after, parseShardId(filter.ShardId) ?? -1);
  }
  shards = shards.filter((s) => s.index > after);
  const limit = Math.min(input.MaxResults ?? 1000, 1000);
  const page = shards.slice(0, limit);
  const last = page[page.length - 1];
  const more = shards.length > page.length;
  return {
    Shards: page.map((s) => renderShard(svc, s)),
    ...(more && last
      ? { NextToken: issueToken(svc, 'shards', { streamId: st.meta.id, after: last.index, ...(filter ? { filter } : {}) }) }
      : {}),
  };
}

/** ShardFilter types (checklist 1.7 ListShards). */
function applyFilter(ctx: OpContext, st: StreamState, shards: ShardMeta[], f: ShardFilter): ShardMeta[] {
  const svc = ctx.streams;
  const needsTs = f.Type === 'AT_TIMESTAMP' || f.Type === 'FROM_TIMESTAMP';
  if (needsTs && f.Timestamp === undefined) {
    throw errors.InvalidArgumentException(`ShardFilter of type ${f.Type} requires a Timestamp.`);
  }
  if (!needsTs && f.Timestamp !== undefined) {
    throw errors.InvalidArgumentException(`ShardFilter of type ${f.Type} does not take a Timestamp.`);
  }
  if (f.Type !== 'AFTER_SHARD_ID' && f.ShardId !== undefined) {
    throw errors.InvalidArgumentException(`ShardFilter of type ${f.Type} does not take a ShardId.`);
  }
  const horizon = svc.retentionCutoff(st);
  const openAt = (s: ShardMeta, t: number) => s.createdMs <= t && (s.closedMs === undefined || s.closedMs > t);
  switch (f.Type) {
    case 'AFTER_SHARD_ID':
    case 'FROM_TRIM_HORIZON':
      return shards;
    case 'AT_LATEST':
      return shards.filter((s) => s.closedMs === undefined);
    case 'AT_TRIM_HORIZON':
      return atTime(shards, Math.max(horizon, st.meta.createdMs), openAt);
    case 'AT_TIMESTAMP':
      return atTime(shards, Math.max(f.Timestamp!, st.meta.createdMs), openAt);
    case 'FROM_TIMESTAMP': {
      const t = Math.max(f.Timestamp!, horizon);
      return shards.filter((s) => s.closedMs === undefined || s.closedMs >= t);
    }
  }
}

function atTime(shards: ShardMeta[], t: number, openAt: (s: ShardMeta, t: number) => boolean): ShardMeta[] {
  const out = shards.filter((s) => openAt(s, t));
  // Shards created in the same instant that closed their parents (merges at time t) would leave
  // the key space with no shard at exactly t; fall back to the oldest generation then.
  return out.length > 0 ? out : shards.filter((s) => s.parent === undefined);
}
