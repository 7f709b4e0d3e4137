import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { ExtendedSequenceNumber, LeaseStore } from './lease.js';

/** Where a new application starts reading a shard that has no checkpoint yet (KCL default LATEST). */
export type InitialPosition = 'LATEST' | 'TRIM_HORIZON' | { timestamp: Date };

export interface ConsumerOptions {
  /** The stream to read; give this or `streamARN`. */
  streamName?: string;
  streamARN?: string;
  /** Names the lease table (by default) and, with fan-out, the registered stream consumer. */
  applicationName: string;
  /** Unique per worker process; default `<hostname>:<pid>:<random>`. */
  workerId?: string;
  /** A configured client; otherwise one is built from region/endpoint/credentials. */
  client?: KinesisClient;
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** createDynamoDbLeaseStore, createPostgresLeaseStore or createMemoryLeaseStore. */
  leaseStore: LeaseStore;
  /** Record processor; without one, iterate the consumer for batches. */
  processor?: RecordProcessor;
  /** Where shards without a checkpoint start; default LATEST. */
  initialPosition?: InitialPosition;
  /** GetRecords polling, or enhanced fan-out (SubscribeToShard) through a consumer named `consumerName`. */
  retrieval?: 'polling' | 'fan-out';
  /** Fan-out consumer name; default applicationName. */
  consumerName?: string;
  /**
   * Lease duration: a dead worker's leases are taken by others within this time of its death
   * (KCL failoverTimeMillis), ms. Renewals and lease-table scans run at fractions of it.
   */
  failoverTimeMs?: number;
  /** How often held leases are renewed, ms; default failoverTimeMs / 5. */
  renewIntervalMs?: number;
  /** How often the lease table is scanned to take or steal leases, ms; default failoverTimeMs / 10. */
  takeIntervalMs?: number;
  /** Most leases this worker holds. */
  maxLeasesForWorker?: number;
  /** Most leases stolen from another worker per scan (KCL maxLeasesToStealAtOneTime). */
  maxLeasesToStealAtOneTime?: number;
  /** Most records per GetRecords call (≤ 10000). */
  maxRecords?: number;
  /** Pause before the next GetRecords when the last one found the shard caught up, ms. */
  idleTimeBetweenReadsMs?: number;
  /** How often a shard waiting for its parents checks them, ms. */
  parentShardPollIntervalMs?: number;
  /** How often the lease table is checked for bootstrap and finished leases deleted, ms. */
  shardSyncIntervalMs?: number;
  /**
   * How often the lease table is compared with the stream for holes: hash-key ranges that no open
   * lease covers (a lease deleted by hand, a child lease never made), ms; KCL
   * leasesRecoveryAuditorExecutionFrequencyMillis, default 2 minutes.
   */
  leasesRecoveryAuditorIntervalMs?: number;
  /** How many audits in a row must see the same hole before leases are made for it (KCL default 3). */
  leasesRecoveryAuditorInconsistencyConfidenceThreshold?: number;
  /** Pause before retrying a failed task (processRecords that threw, shardEnded without checkpoint), ms. */
  taskBackoffMs?: number;
  /** How long a new owner waits for the previous one to hand a stolen lease over, ms; default failoverTimeMs. */
  handoffTimeoutMs?: number;
  /** Call processRecords with empty batches too. */
  callProcessRecordsEvenForEmptyRecordList?: boolean;
  /** Observability: lease and shard events, errors that were retried. */
  onEvent?: (event: ConsumerEvent) => void;
  /** Aborting stops the consumer (as stop()). */
  signal?: AbortSignal;
}

/** A user record: a Kinesis record, or one sub-record of a KPL-aggregated Kinesis record. */
export interface ConsumerRecord {
  readonly sequenceNumber: string;
  /** Index inside the aggregated record; 0 for records that were not aggregated. */
  readonly subSequenceNumber: number;
  readonly partitionKey: string;
  /** Only for KPL sub-records that had one. */
  readonly explicitHashKey?: string;
  readonly data: Buffer;
  readonly approximateArrivalTimestamp: Date;
  /** Whether it came out of a KPL-aggregated record. */
  readonly aggregated: boolean;
  readonly encryptionType?: string;
}

/** A place to checkpoint: a record, a position, or a sequence number (sub-sequence 0). */
export type CheckpointTarget = ConsumerRecord | ExtendedSequenceNumber | string;

export interface Checkpointer {
  /**
   * Stores the checkpoint: at `at`, or without it at the last record delivered (SHARD_END when the
   * shard has ended). A restarted reader resumes after it. Rejects with INVALID_CHECKPOINT for a
   * position before the last checkpoint or after the last record delivered, with LEASE_LOST when
   * another worker holds the lease.
   */
  checkpoint(at?: CheckpointTarget): Promise<void>;
  /** Two-phase checkpoint (KCL prepareCheckpoint): records a pending checkpoint; commit it later. */
  prepareCheckpoint(at?: CheckpointTarget): Promise<{ checkpoint(): Promise<void> }>;
  /** The last checkpoint stored. */
  readonly lastCheckpoint: ExtendedSequenceNumber;
}

export interface InitializeInput {
  shardId: string;
  /** Where reading resumes: after this position (or a sentinel). */
  checkpoint: ExtendedSequenceNumber;
  pendingCheckpoint?: ExtendedSequenceNumber;
}

export interface ProcessRecordsInput {
  shardId: string;
  records: ConsumerRecord[];
  checkpointer: Checkpointer;
  /** How far behind the tip of the shard these records are, ms (undefined if unknown). */
  millisBehindLatest: number | undefined;
}

export interface ShardEndedInput {
  shardId: string;
  /** checkpoint() must be called: it stores SHARD_END, which lets the child shards start. */
  checkpointer: Checkpointer;
  childShardIds: string[];
}

/**
 * The KCL's ShardRecordProcessor (checklist 3.7). One object serves every shard; each call names
 * its shard; calls for one shard never overlap and come in the order initialize, processRecords…,
 * then one of leaseLost, shardEnded or shutdownRequested.
 */
export interface RecordProcessor {
  initialize?(input: InitializeInput): void | Promise<void>;
  /** A throw is reported as an error event and the same records are offered again (at-least-once). */
  processRecords(input: ProcessRecordsInput): void | Promise<void>;
  /** Another worker has the lease: do not checkpoint. */
  leaseLost?(input: { shardId: string }): void | Promise<void>;
  /** The shard is closed and fully read: checkpoint (called again until you do). */
  shardEnded(input: ShardEndedInput): void | Promise<void>;
  /** stop() was called, or another worker takes the lease over gracefully: checkpoint if you like. */
  shutdownRequested?(input: { shardId: string; checkpointer: Checkpointer }): void | Promise<void>;
}

/** What iterating the consumer yields. */
export interface RecordBatch {
  readonly shardId: string;
  readonly records: ConsumerRecord[];
  readonly millisBehindLatest: number | undefined;
  /** The shard's last batch, with no records: checkpoint() stores SHARD_END so its children start. */
  readonly shardEnded: boolean;
  readonly childShardIds: string[];
  /** Same as checkpointer.checkpoint(at). */
  checkpoint(at?: CheckpointTarget): Promise<void>;
  readonly checkpointer: Checkpointer;
}

/** Observability events, tagged by `type`. */
export type ConsumerEvent =
  | { type: 'leaseTaken'; shardId: string; previousOwner: string | undefined; stolen: boolean }
  | { type: 'leaseLost'; shardId: string }
  | { type: 'leaseHandedOver'; shardId: string; to: string | undefined }
  | { type: 'leaseReleased'; shardId: string }
  | { type: 'leasesCreated'; shardIds: string[] }
  | { type: 'leasesDeleted'; shardIds: string[] }
  | { type: 'shardStarted'; shardId: string; checkpoint: ExtendedSequenceNumber }
  | { type: 'shardEnded'; shardId: string; childShardIds: string[] }
  /** The shard is gone from the stream (past retention) before it was read to its end: it is ended as if read. */
  | { type: 'shardExpired'; shardId: string }
  | { type: 'throttled'; shardId: string; operation: string }
  | { type: 'error'; operation: string; shardId: string | undefined; error: Error };

export interface Consumer extends AsyncIterable<RecordBatch> {
  readonly workerId: string;
  /** Resolves once the lease table, stream and (fan-out) stream consumer are ready. */
  start(): Promise<void>;
  /**
   * Graceful: stops taking leases, lets every shard finish its current batch, calls
   * shutdownRequested (a chance to checkpoint), then releases the leases so others take them at
   * once. Idempotent.
   */
  stop(): Promise<void>;
  /** Shards this worker holds a lease on now. */
  leases(): string[];
  /** Batches from every shard this worker holds; starts the consumer; leaving the loop stops it. */
  [Symbol.asyncIterator](): AsyncIterator<RecordBatch>;
}
