import { parseShardId } from '../../core/ids.js';
import type { OpContext } from '../context.js';
import { encryptionFields, renderEnhancedMonitoring, renderModeDetails, renderShard, sortedShards } from './render.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  Limit?: number;
  ExclusiveStartShardId?: string;
}

export async function describeStream(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input, { allowDeleting: true });
  let shards = sortedShards(svc.liveShards(st));
  if (input.ExclusiveStartShardId !== undefined) {
    const after = parseShardId(input.ExclusiveStartShardId) ?? -1;
    shards = shards.filter((s) => s.index > after);
  }
  // Limit defaults to 100 and at most 100 shards come back (checklist 1.7).
  const limit = Math.min(input.Limit ?? 100, 100);
  const page = shards.slice(0, limit);
  const m = st.meta;
  return {
    StreamDescription: {
      StreamName: m.name,
      StreamARN: m.arn,
      StreamStatus: m.status,
      StreamModeDetails: renderModeDetails(st),
      Shards: page.map((s) => renderShard(svc, s)),
      HasMoreShards: shards.length > page.length,
      RetentionPeriodHours: m.retentionHours,
      StreamCreationTimestamp: m.createdMs,
      EnhancedMonitoring: renderEnhancedMonitoring(st),
      ...encryptionFields(st),
    },
  };
}
