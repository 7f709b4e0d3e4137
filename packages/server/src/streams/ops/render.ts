import { shardIdOf } from '../../core/ids.js';
import type { StreamsService, StreamState } from '../service.js';
import type { ShardMeta } from '../types.js';

/** A shard as DescribeStream and ListShards show it (checklist 1.14). */
export function renderShard(svc: StreamsService, s: ShardMeta) {
  const ending = svc.endingSequenceNumber(s);
  return {
    ShardId: shardIdOf(s.index),
    ...(s.parent !== undefined ? { ParentShardId: shardIdOf(s.parent) } : {}),
    ...(s.adjacentParent !== undefined ? { AdjacentParentShardId: shardIdOf(s.adjacentParent) } : {}),
    HashKeyRange: { StartingHashKey: s.start, EndingHashKey: s.end },
    SequenceNumberRange: {
      StartingSequenceNumber: svc.startingSequenceNumber(s),
      ...(ending !== undefined ? { EndingSequenceNumber: ending } : {}),
    },
  };
}

export function renderModeDetails(st: StreamState) {
  return { StreamMode: st.meta.mode };
}

export function renderEnhancedMonitoring(st: StreamState) {
  return [{ ShardLevelMetrics: [...st.meta.shardLevelMetrics] }];
}

export function encryptionFields(st: StreamState) {
  return {
    EncryptionType: st.meta.encryptionType,
    ...(st.meta.keyId !== undefined ? { KeyId: st.meta.keyId } : {}),
  };
}

/** Shards sorted by index, AWS's listing order. */
export function sortedShards(shards: readonly ShardMeta[]): ShardMeta[] {
  return [...shards].sort((a, b) => a.index - b.index);
}
