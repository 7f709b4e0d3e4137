import { shardIdOf } from '../../core/ids.js';
import type { StoredRecord } from '../../storage/types.js';
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

/** A record as GetRecords and SubscribeToShardEvent carry it (checklist 1.14). */
export interface WireRecord {
  SequenceNumber: string;
  ApproximateArrivalTimestamp: number;
  Data: Uint8Array;
  PartitionKey: string;
  EncryptionType?: 'KMS';
}

/** Stored records in their wire shape (decrypted), with the data + partition key bytes read. */
export function renderRecords(svc: StreamsService, shard: ShardMeta, records: readonly StoredRecord[]): { records: WireRecord[]; bytes: number } {
  let bytes = 0;
  const out = records.map((r): WireRecord => {
    const data = svc.plain(r);
    bytes += data.length + Buffer.byteLength(r.partitionKey);
    return {
      SequenceNumber: svc.sequenceNumber(shard, r.position, r.arrivalMs),
      ApproximateArrivalTimestamp: r.arrivalMs,
      Data: data,
      PartitionKey: r.partitionKey,
      ...(r.keyId !== 0 ? { EncryptionType: 'KMS' as const } : {}),
    };
  });
  return { records: out, bytes };
}
