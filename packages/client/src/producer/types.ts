import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { ProducerError } from './errors.js';

export interface ProducerOptions {
  /** The stream to write to; give this or `streamARN`. */
  streamName?: string;
  streamARN?: string;
  /** A configured client; otherwise one is built from region/endpoint/credentials. */
  client?: KinesisClient;
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** How long a record may wait for company before it is sent (KPL RecordMaxBufferedTime), ms. */
  lingerMs?: number;
  /** Most Kinesis records in one PutRecords call (≤ 500). */
  maxBatchRecords?: number;
  /** Most bytes (data + partition keys) in one PutRecords call. */
  maxBatchBytes?: number;
  /** KPL aggregation; `true` = KPL defaults (51200 bytes per aggregated record). */
  aggregation?: boolean | { maxBytes?: number; maxCount?: number };
  /** Per-shard shaping as % of 1 MiB/s and 1000 records/s (KPL RateLimit); Infinity turns it off. */
  rateLimitPercent?: number;
  /** A record not stored after this long is rejected (KPL RecordTtl), ms. */
  recordTtlMs?: number;
  /** put() waits while this many bytes are buffered or in flight. */
  maxInFlightBytes?: number;
  /** Keep order per partition key: one PutRecords in flight per key. */
  ordered?: boolean;
  /** Exponential back-off with full jitter between attempts of a record. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Aborting closes the producer without flushing: pending puts reject. */
  signal?: AbortSignal;
  /**
   * Where records given to add() go when they fail (expired, rejected, aborted); add() needs it.
   * Called once per failed record, with the record as given.
   */
  onFailure?: (error: ProducerError, record: ProducerRecord) => void;
}

export interface ProducerRecord {
  partitionKey: string;
  data: Uint8Array | string;
  explicitHashKey?: string;
}

export interface PutResult {
  shardId: string;
  sequenceNumber: string;
  /** Index in the aggregated record, when the record was sent aggregated. */
  subSequenceNumber?: number;
  /** PutRecords attempts it took. */
  attempts: number;
}

export interface ProducerMetrics {
  /** User records stored. */
  userRecordsPut: number;
  /** Kinesis records stored (aggregated records count once). */
  kinesisRecordsPut: number;
  /** Bytes stored: Kinesis data plus partition keys. */
  bytesPut: number;
  /** User record attempts after the first. */
  retries: number;
  /** ProvisionedThroughputExceeded answers (per record or per call). */
  throttles: number;
  /** User records rejected. */
  failures: number;
  /** put() to settlement, over the most recent records. */
  latencyMs: { p50: number; p99: number; max: number };
  inFlightBytes: number;
}

export interface Producer {
  /** Resolves once the record is stored; rejects with a ProducerError. */
  put(record: ProducerRecord): Promise<PutResult>;
  /**
   * put() without a promise, for callers that do not need each record's result (the KPL's
   * addUserRecord with the future ignored): a failure goes to options.onFailure, flush() waits for
   * it like for a put(). Throws a ProducerError for an invalid record or a closed producer. Returns
   * false when maxInFlightBytes is reached: the record is taken, and the caller should await
   * ready() before adding more. Records added regardless wait, up to maxInFlightBytes of them; past
   * that add() throws BUFFER_FULL (retryable) rather than buffer without bound.
   */
  add(record: ProducerRecord): boolean;
  /** Resolves once no record waits for room under maxInFlightBytes. */
  ready(): Promise<void>;
  /** Sends everything buffered now and waits until every put so far has settled. */
  flush(): Promise<void>;
  /** Flushes and stops; idempotent. */
  close(): Promise<void>;
  metrics(): ProducerMetrics;
}
