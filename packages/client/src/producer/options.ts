import { KinesisClient } from '@aws-sdk/client-kinesis';
import { defaultAggregatorOptions } from '../aggregation/index.js';
import { ProducerError, ProducerErrorCode } from './errors.js';
import type { ProducerOptions } from './types.js';

const MiB = 1024 * 1024;

/** Defaults follow the KPL's default_config.properties (checklist 2.2). */
export const defaultProducerOptions = {
  lingerMs: 100,
  maxBatchRecords: 500,
  // KPL CollectionMaxSize; the 2026 model allows 10 MiB, older docs 5 MiB (checklist 1.6).
  maxBatchBytes: 5 * MiB,
  aggregation: true,
  rateLimitPercent: 150,
  recordTtlMs: 30_000,
  maxInFlightBytes: 64 * MiB,
  ordered: false,
  retry: { baseMs: 100, maxMs: 5_000 },
} as const satisfies ProducerOptions;

/** PutRecords request limit (2026 model, checklist 1.6). */
export const PUT_RECORDS_MAX_BYTES = 10 * MiB;
/** A record's data plus partition key, default stream maximum (checklist 1.6). */
export const MAX_RECORD_BYTES = MiB;

export interface ResolvedOptions {
  stream: { StreamName: string } | { StreamARN: string };
  streamLabel: string;
  client: KinesisClient;
  ownsClient: boolean;
  lingerMs: number;
  maxBatchRecords: number;
  maxBatchBytes: number;
  aggregation: { maxBytes: number; maxCount: number } | undefined;
  rateLimitPercent: number;
  recordTtlMs: number;
  maxInFlightBytes: number;
  ordered: boolean;
  retry: { baseMs: number; maxMs: number };
  signal: AbortSignal | undefined;
  onFailure: ProducerOptions['onFailure'];
}

function bad(field: string, message: string): ProducerError {
  return new ProducerError(ProducerErrorCode.INVALID_OPTION, `${field}: ${message}`);
}

function int(field: string, v: unknown, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(field, `must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

/** Validates once, up front; every message names the field. */
export function resolveOptions(o: ProducerOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw bad('options', 'must be an object');
  const hasName = o.streamName !== undefined;
  const hasArn = o.streamARN !== undefined;
  if (hasName === hasArn) throw bad('streamName', 'give exactly one of streamName and streamARN');
  let stream: ResolvedOptions['stream'];
  let streamLabel: string;
  if (hasName) {
    if (typeof o.streamName !== 'string' || !/^[a-zA-Z0-9_.-]{1,128}$/.test(o.streamName)) {
      throw bad('streamName', `must be 1-128 characters of [a-zA-Z0-9_.-], got ${JSON.stringify(o.streamName)}`);
    }
    stream = { StreamName: o.streamName };
    streamLabel = o.streamName;
  } else {
    if (typeof o.streamARN !== 'string' || !/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[a-zA-Z0-9_.-]{1,128}$/.test(o.streamARN)) {
      throw bad('streamARN', `must be a Kinesis stream ARN, got ${JSON.stringify(o.streamARN)}`);
    }
    stream = { StreamARN: o.streamARN };
    streamLabel = o.streamARN;
  }

  let client: KinesisClient;
  let ownsClient = false;
  if (o.client !== undefined) {
    if (!(o.client instanceof KinesisClient) && typeof (o.client as { send?: unknown }).send !== 'function') {
      throw bad('client', 'must be a KinesisClient');
    }
    for (const f of ['region', 'endpoint', 'credentials'] as const) {
      if (o[f] !== undefined) throw bad(f, 'give either client or region/endpoint/credentials, not both');
    }
    client = o.client;
  } else {
    if (o.region !== undefined && (typeof o.region !== 'string' || o.region === '')) throw bad('region', 'must be a non-empty string');
    if (o.endpoint !== undefined) {
      try {
        new URL(o.endpoint);
      } catch {
        throw bad('endpoint', `must be a URL, got ${JSON.stringify(o.endpoint)}`);
      }
    }
    if (o.credentials !== undefined) {
      const c = o.credentials;
      if (typeof c !== 'object' || c === null || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string') {
        throw bad('credentials', 'must be { accessKeyId, secretAccessKey, sessionToken? }');
      }
    }
    // The producer does its own retries (until recordTtlMs), so the SDK makes one attempt. The
    // Kinesis client's default HTTP/2 handler opens an isolated session (a new TCP and TLS
    // connection) for every call (disableConcurrentStreams: true, meant for SubscribeToShard,
    // which gets one regardless); PutRecords calls share one session instead, as the KPL keeps its
    // connections.
    client = new KinesisClient({
      maxAttempts: 1,
      requestHandler: { disableConcurrentStreams: false },
      ...(o.region !== undefined ? { region: o.region } : {}),
      ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
      ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    });
    ownsClient = true;
  }

  const d = defaultProducerOptions;
  const lingerMs = int('lingerMs', o.lingerMs, 0, 3_600_000, d.lingerMs);
  const maxBatchRecords = int('maxBatchRecords', o.maxBatchRecords, 1, 500, d.maxBatchRecords);
  const maxBatchBytes = int('maxBatchBytes', o.maxBatchBytes, MAX_RECORD_BYTES, PUT_RECORDS_MAX_BYTES, d.maxBatchBytes);

  let aggregation: ResolvedOptions['aggregation'];
  const a = o.aggregation ?? d.aggregation;
  if (a === true) aggregation = { ...defaultAggregatorOptions };
  else if (a === false) aggregation = undefined;
  else if (typeof a === 'object' && a !== null) {
    aggregation = {
      // KPL AggregationMaxSize range 64-1048576 (checklist 2.2).
      maxBytes: int('aggregation.maxBytes', a.maxBytes, 64, MAX_RECORD_BYTES, defaultAggregatorOptions.maxBytes),
      maxCount: int('aggregation.maxCount', a.maxCount, 1, 4294967295, defaultAggregatorOptions.maxCount),
    };
  } else throw bad('aggregation', 'must be a boolean or { maxBytes?, maxCount? }');

  const rateLimitPercent = o.rateLimitPercent ?? d.rateLimitPercent;
  if (typeof rateLimitPercent !== 'number' || Number.isNaN(rateLimitPercent) || rateLimitPercent <= 0) {
    throw bad('rateLimitPercent', `must be a number > 0 (Infinity turns shaping off), got ${String(rateLimitPercent)}`);
  }
  const recordTtlMs = int('recordTtlMs', o.recordTtlMs, 1, 86_400_000, d.recordTtlMs);
  const maxInFlightBytes = int('maxInFlightBytes', o.maxInFlightBytes, 1, Number.MAX_SAFE_INTEGER, d.maxInFlightBytes);
  if (o.ordered !== undefined && typeof o.ordered !== 'boolean') throw bad('ordered', 'must be a boolean');
  if (o.retry !== undefined && (typeof o.retry !== 'object' || o.retry === null)) throw bad('retry', 'must be { baseMs?, maxMs? }');
  const baseMs = int('retry.baseMs', o.retry?.baseMs, 1, 3_600_000, d.retry.baseMs);
  const maxMs = int('retry.maxMs', o.retry?.maxMs, 1, 3_600_000, Math.max(d.retry.maxMs, baseMs));
  if (maxMs < baseMs) throw bad('retry.maxMs', `must be ≥ retry.baseMs (${baseMs}), got ${maxMs}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw bad('signal', 'must be an AbortSignal');
  if (o.onFailure !== undefined && typeof o.onFailure !== 'function') throw bad('onFailure', 'must be a function');

  return {
    stream,
    streamLabel,
    client,
    ownsClient,
    lingerMs,
    maxBatchRecords,
    maxBatchBytes,
    aggregation,
    rateLimitPercent,
    recordTtlMs,
    maxInFlightBytes,
    ordered: o.ordered ?? d.ordered,
    retry: { baseMs, maxMs },
    signal: o.signal,
    onFailure: o.onFailure,
  };
}
