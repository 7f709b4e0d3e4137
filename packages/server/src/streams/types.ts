/** Persisted metadata of Data Streams (MetaStore values). JSON-serialisable: bigints as strings. */

export const StreamStatus = { CREATING: 'CREATING', ACTIVE: 'ACTIVE', UPDATING: 'UPDATING', DELETING: 'DELETING' } as const;
export type StreamStatus = (typeof StreamStatus)[keyof typeof StreamStatus];

export const StreamMode = { PROVISIONED: 'PROVISIONED', ON_DEMAND: 'ON_DEMAND' } as const;
export type StreamMode = (typeof StreamMode)[keyof typeof StreamMode];

export interface ShardMeta {
  readonly index: number;
  readonly createdMs: number;
  readonly parent?: number;
  readonly adjacentParent?: number;
  /** Inclusive hash-key range, decimal. */
  readonly start: string;
  readonly end: string;
  /** Set once the shard is closed by a reshard. */
  readonly closedMs?: number;
  /** Position after the shard's last record when it closed (decimal). */
  readonly endPosition?: string;
}

/** A change that takes effect when the stream leaves CREATING/UPDATING/DELETING. */
export type PendingChange =
  | { readonly kind: 'create' }
  | { readonly kind: 'delete' }
  | { readonly kind: 'split'; readonly shard: number; readonly newStartingHashKey: string }
  | { readonly kind: 'merge'; readonly shard: number; readonly adjacent: number }
  | { readonly kind: 'resize'; readonly target: number }
  | { readonly kind: 'mode'; readonly mode: StreamMode; readonly warmThroughputMiBps?: number }
  | { readonly kind: 'encryption'; readonly encryptionType: 'NONE' | 'KMS'; readonly keyId?: string }
  | { readonly kind: 'warm'; readonly warmThroughputMiBps: number };

export interface ConsumerMeta {
  readonly name: string;
  readonly arn: string;
  readonly createdMs: number;
  readonly status: 'CREATING' | 'ACTIVE' | 'DELETING';
  readonly dueMs: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface StreamMeta {
  readonly id: number;
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  readonly arn: string;
  readonly status: StreamStatus;
  readonly pending?: PendingChange;
  /** When the pending change takes effect (epoch ms). */
  readonly dueMs?: number;
  readonly createdMs: number;
  readonly retentionHours: number;
  readonly mode: StreamMode;
  readonly shards: readonly ShardMeta[];
  readonly nextShardIndex: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly shardLevelMetrics: readonly string[];
  readonly encryptionType: 'NONE' | 'KMS';
  readonly keyId?: string;
  readonly maxRecordSizeKiB: number;
  readonly warmThroughputMiBps?: number;
  /** Epoch ms of recent UpdateShardCount, mode switch and encryption calls (rolling 24 h limits). */
  readonly history: Readonly<{ resize: readonly number[]; mode: readonly number[]; encryption: readonly number[] }>;
  readonly consumers: readonly ConsumerMeta[];
}

export interface PolicyMeta {
  readonly arn: string;
  readonly policy: string;
}
