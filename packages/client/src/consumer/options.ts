import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { ConsumerError, ConsumerErrorCode } from './errors.js';
import type { LeaseStore } from './lease.js';
import type { ConsumerEvent, ConsumerOptions, InitialPosition, RecordProcessor } from './types.js';

/**
 * KCL defaults where they carry over (checklist 3.1, 3.3); deviations say why.
 */
export const defaultConsumerOptions = {
  initialPosition: 'LATEST',
  retrieval: 'polling',
  failoverTimeMs: 10_000,
  maxLeasesForWorker: Number.POSITIVE_INFINITY,
  maxLeasesToStealAtOneTime: 1,
  maxRecords: 10_000,
  // KCL sleeps 1500 ms between every pair of GetRecords; we sleep only when caught up, and read
  // back-to-back (one fetch ahead) while behind, so that a backlog drains at the shard's limit.
  idleTimeBetweenReadsMs: 1_000,
  // KCL polls parents every 10 s; one GetItem a second per waiting shard costs little and lets
  // children start soon after their parents finish.
  parentShardPollIntervalMs: 1_000,
  shardSyncIntervalMs: 60_000,
  leasesRecoveryAuditorIntervalMs: 120_000,
  leasesRecoveryAuditorInconsistencyConfidenceThreshold: 3,
  taskBackoffMs: 500,
  callProcessRecordsEvenForEmptyRecordList: false,
} as const satisfies Partial<ConsumerOptions>;

export interface ResolvedConsumerOptions {
  stream: { StreamName: string } | { StreamARN: string };
  applicationName: string;
  workerId: string;
  client: KinesisClient;
  ownsClient: boolean;
  leaseStore: LeaseStore;
  processor: RecordProcessor | undefined;
  initialPosition: InitialPosition;
  retrieval: 'polling' | 'fan-out';
  consumerName: string;
  failoverTimeMs: number;
  renewIntervalMs: number;
  takeIntervalMs: number;
  /**
   * A lease whose counter has not moved for this long (as seen by our scans) is expired. Takers see
   * a change up to one scan late and act up to one scan after expiry, so expiry = failover − 2 scans
   * keeps takeover within failoverTimeMs of the owner's last renewal, hence of its death.
   */
  expiryMs: number;
  maxLeasesForWorker: number;
  maxLeasesToStealAtOneTime: number;
  maxRecords: number;
  idleTimeBetweenReadsMs: number;
  parentShardPollIntervalMs: number;
  shardSyncIntervalMs: number;
  leasesRecoveryAuditorIntervalMs: number;
  leasesRecoveryAuditorInconsistencyConfidenceThreshold: number;
  taskBackoffMs: number;
  handoffTimeoutMs: number;
  callProcessRecordsEvenForEmptyRecordList: boolean;
  onEvent: (event: ConsumerEvent) => void;
  signal: AbortSignal | undefined;
}

function bad(field: string, message: string): ConsumerError {
  return new ConsumerError(ConsumerErrorCode.INVALID_OPTION, `${field}: ${message}`);
}

function int(field: string, v: unknown, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(Number.isInteger(v) || v === Number.POSITIVE_INFINITY) || v < min || v > max) {
    throw bad(field, `must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

const NAME = /^[a-zA-Z0-9_.-]{1,128}$/;

/** Validates once, up front; every message names the field. */
export function resolveOptions(o: ConsumerOptions): ResolvedConsumerOptions {
  if (typeof o !== 'object' || o === null) throw bad('options', 'must be an object');
  const hasName = o.streamName !== undefined;
  const hasArn = o.streamARN !== undefined;
  if (hasName === hasArn) throw bad('streamName', 'give exactly one of streamName and streamARN');
  let stream: ResolvedConsumerOptions['stream'];
  if (hasName) {
    if (typeof o.streamName !== 'string' || !NAME.test(o.streamName)) throw bad('streamName', `must be 1-128 characters of [a-zA-Z0-9_.-], got ${JSON.stringify(o.streamName)}`);
    stream = { StreamName: o.streamName };
  } else {
    if (typeof o.streamARN !== 'string' || !/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[a-zA-Z0-9_.-]{1,128}$/.test(o.streamARN)) {
      throw bad('streamARN', `must be a Kinesis stream ARN, got ${JSON.stringify(o.streamARN)}`);
    }
    stream = { StreamARN: o.streamARN };
  }
  if (typeof o.applicationName !== 'string' || !NAME.test(o.applicationName)) {
    throw bad('applicationName', `must be 1-128 characters of [a-zA-Z0-9_.-], got ${JSON.stringify(o.applicationName)}`);
  }
  const workerId = o.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  if (typeof workerId !== 'string' || workerId.length === 0 || workerId.length > 256) throw bad('workerId', 'must be a string of 1-256 characters');
  const store = o.leaseStore;
  if (typeof store !== 'object' || store === null || typeof store.update !== 'function' || typeof store.list !== 'function') {
    throw bad('leaseStore', 'must be a LeaseStore (createDynamoDbLeaseStore, createPostgresLeaseStore or createMemoryLeaseStore)');
  }
  const p = o.processor;
  if (p !== undefined && (typeof p !== 'object' || p === null || typeof p.processRecords !== 'function' || typeof p.shardEnded !== 'function')) {
    throw bad('processor', 'must have processRecords and shardEnded methods');
  }
  const ip = o.initialPosition ?? defaultConsumerOptions.initialPosition;
  if (ip !== 'LATEST' && ip !== 'TRIM_HORIZON' && !(typeof ip === 'object' && ip !== null && ip.timestamp instanceof Date && !Number.isNaN(ip.timestamp.getTime()))) {
    throw bad('initialPosition', "must be 'LATEST', 'TRIM_HORIZON' or { timestamp: Date }");
  }
  const retrieval = o.retrieval ?? defaultConsumerOptions.retrieval;
  if (retrieval !== 'polling' && retrieval !== 'fan-out') throw bad('retrieval', `must be 'polling' or 'fan-out', got ${JSON.stringify(retrieval)}`);
  const consumerName = o.consumerName ?? o.applicationName;
  if (!NAME.test(consumerName)) throw bad('consumerName', `must be 1-128 characters of [a-zA-Z0-9_.-], got ${JSON.stringify(consumerName)}`);

  const failoverTimeMs = int('failoverTimeMs', o.failoverTimeMs, 100, 3_600_000, defaultConsumerOptions.failoverTimeMs);
  const renewIntervalMs = int('renewIntervalMs', o.renewIntervalMs, 10, failoverTimeMs, Math.max(10, Math.floor(failoverTimeMs / 5)));
  const takeIntervalMs = int('takeIntervalMs', o.takeIntervalMs, 10, failoverTimeMs, Math.max(10, Math.floor(failoverTimeMs / 10)));
  const expiryMs = failoverTimeMs - 2 * takeIntervalMs;
  // A live owner's change is seen at most renew + scan after the previous one; expiry must exceed that.
  if (expiryMs <= renewIntervalMs + takeIntervalMs) {
    throw bad('failoverTimeMs', `must exceed renewIntervalMs + 3 × takeIntervalMs (${renewIntervalMs} + 3 × ${takeIntervalMs}), got ${failoverTimeMs}`);
  }

  let client: KinesisClient;
  let ownsClient = false;
  if (o.client !== undefined) {
    if (!(o.client instanceof KinesisClient) && typeof (o.client as { send?: unknown }).send !== 'function') throw bad('client', 'must be a KinesisClient');
    client = o.client;
  } else {
    client = new KinesisClient({
      ...(o.region !== undefined ? { region: o.region } : {}),
      ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
      ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    });
    ownsClient = true;
  }
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') throw bad('onEvent', 'must be a function');
  const onEvent = o.onEvent ?? (() => undefined);
  return {
    stream,
    applicationName: o.applicationName,
    workerId,
    client,
    ownsClient,
    leaseStore: store,
    processor: p,
    initialPosition: ip,
    retrieval,
    consumerName,
    failoverTimeMs,
    renewIntervalMs,
    takeIntervalMs,
    expiryMs,
    maxLeasesForWorker: int('maxLeasesForWorker', o.maxLeasesForWorker, 1, Number.POSITIVE_INFINITY, defaultConsumerOptions.maxLeasesForWorker),
    maxLeasesToStealAtOneTime: int('maxLeasesToStealAtOneTime', o.maxLeasesToStealAtOneTime, 0, 10_000, defaultConsumerOptions.maxLeasesToStealAtOneTime),
    maxRecords: int('maxRecords', o.maxRecords, 1, 10_000, defaultConsumerOptions.maxRecords),
    idleTimeBetweenReadsMs: int('idleTimeBetweenReadsMs', o.idleTimeBetweenReadsMs, 0, 3_600_000, defaultConsumerOptions.idleTimeBetweenReadsMs),
    parentShardPollIntervalMs: int('parentShardPollIntervalMs', o.parentShardPollIntervalMs, 10, 3_600_000, defaultConsumerOptions.parentShardPollIntervalMs),
    shardSyncIntervalMs: int('shardSyncIntervalMs', o.shardSyncIntervalMs, 100, 86_400_000, defaultConsumerOptions.shardSyncIntervalMs),
    leasesRecoveryAuditorIntervalMs: int('leasesRecoveryAuditorIntervalMs', o.leasesRecoveryAuditorIntervalMs, 100, 86_400_000, defaultConsumerOptions.leasesRecoveryAuditorIntervalMs),
    leasesRecoveryAuditorInconsistencyConfidenceThreshold: int(
      'leasesRecoveryAuditorInconsistencyConfidenceThreshold',
      o.leasesRecoveryAuditorInconsistencyConfidenceThreshold,
      1,
      1_000,
      defaultConsumerOptions.leasesRecoveryAuditorInconsistencyConfidenceThreshold,
    ),
    taskBackoffMs: int('taskBackoffMs', o.taskBackoffMs, 1, 3_600_000, defaultConsumerOptions.taskBackoffMs),
    handoffTimeoutMs: int('handoffTimeoutMs', o.handoffTimeoutMs, 0, 3_600_000, failoverTimeMs),
    callProcessRecordsEvenForEmptyRecordList: o.callProcessRecordsEvenForEmptyRecordList ?? defaultConsumerOptions.callProcessRecordsEvenForEmptyRecordList,
    onEvent: (e) => {
      try {
        onEvent(e);
      } catch {
        // An observer's failure must not break the worker.
      }
    },
    signal: o.signal,
  };
}
