// Polling retrieval: GetShardIterator, then GetRecords until the shard ends (checklist 1.7, 3.1).
import { GetRecordsCommand, type GetRecordsCommandOutput, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { asError, awsErrorName } from './errors.js';
import type { FetchResult, Fetcher, ShardGoneCheck, StartingPosition } from './retrieval.js';
import type { ConsumerEvent } from './types.js';
import { Backoff, sleep } from './util.js';

export interface PollingOptions {
  client: KinesisClient;
  stream: { StreamName: string } | { StreamARN: string };
  shardId: string;
  maxRecords: number;
  idleTimeBetweenReadsMs: number;
  /** Asked when a read says ResourceNotFoundException: a gone shard ends reading (FetchResult.expired). */
  shardGone: ShardGoneCheck;
  onEvent: (e: ConsumerEvent) => void;
}

/** The shard aged out of retention: what a read of it returns. */
const GONE = Symbol('gone');

/** KCL PollingConfig request timeout (checklist 3.1). */
const GET_RECORDS_TIMEOUT_MS = 30_000;

type Fetched = { ok: true; out: GetRecordsCommandOutput } | { ok: false; gone?: true };

export function createPollingFetcher(o: PollingOptions): Fetcher {
  const backoff = new Backoff(200, 5_000);

  /** After a ResourceNotFoundException: true when the shard is gone (reported), false to retry. */
  async function gone(e: unknown, signal: AbortSignal): Promise<boolean> {
    if (awsErrorName(e) !== 'ResourceNotFoundException') return false;
    try {
      if (!(await o.shardGone(signal))) return false;
    } catch {
      return false;
    }
    o.onEvent({ type: 'shardExpired', shardId: o.shardId });
    return true;
  }

  async function iterator(pos: StartingPosition, signal: AbortSignal): Promise<string | undefined | typeof GONE> {
    for (;;) {
      if (signal.aborted) return undefined;
      try {
        const r = await o.client.send(
          new GetShardIteratorCommand({
            ...o.stream,
            ShardId: o.shardId,
            ShardIteratorType: pos.type,
            ...(pos.type === 'AT_SEQUENCE_NUMBER' || pos.type === 'AFTER_SEQUENCE_NUMBER' ? { StartingSequenceNumber: pos.sequenceNumber } : {}),
            ...(pos.type === 'AT_TIMESTAMP' ? { Timestamp: pos.timestamp } : {}),
          }),
          { abortSignal: signal },
        );
        backoff.reset();
        return r.ShardIterator;
      } catch (e) {
        if (signal.aborted) return undefined;
        if (await gone(e, signal)) return GONE;
        if (awsErrorName(e) === 'ProvisionedThroughputExceededException') o.onEvent({ type: 'throttled', shardId: o.shardId, operation: 'GetShardIterator' });
        else o.onEvent({ type: 'error', operation: 'GetShardIterator', shardId: o.shardId, error: asError(e) });
        await sleep(backoff.next(), signal);
      }
    }
  }

  return {
    async *batches(start, signal) {
      let shardIterator = await iterator(start, signal);
      /** Where to get a new iterator from: after the last record read, or the start. */
      let resume: StartingPosition = start;

      // One GetRecords is kept in flight ahead of processing (the KCL's prefetch), so that reading
      // and processing overlap while a backlog drains.
      const fetch = async (it: string): Promise<Fetched> => {
        for (;;) {
          if (signal.aborted) return { ok: false };
          try {
            // A call that hangs must not stall the shard while its lease stays renewed (KCL: 30 s).
            const out = await o.client.send(new GetRecordsCommand({ ShardIterator: it, Limit: o.maxRecords, ...o.stream }), {
              abortSignal: AbortSignal.any([signal, AbortSignal.timeout(GET_RECORDS_TIMEOUT_MS)]),
            });
            backoff.reset();
            return { ok: true, out };
          } catch (e) {
            if (signal.aborted) return { ok: false };
            const name = awsErrorName(e);
            if (name === 'ExpiredIteratorException') {
              const fresh = await iterator(resume, signal);
              if (fresh === undefined) return { ok: false };
              if (fresh === GONE) return { ok: false, gone: true };
              it = fresh;
              continue;
            }
            if (await gone(e, signal)) return { ok: false, gone: true };
            if (name === 'ProvisionedThroughputExceededException') o.onEvent({ type: 'throttled', shardId: o.shardId, operation: 'GetRecords' });
            else o.onEvent({ type: 'error', operation: 'GetRecords', shardId: o.shardId, error: asError(e) });
            await sleep(backoff.next(), signal);
          }
        }
      };

      const expired = { records: [], millisBehindLatest: undefined, childShards: [], expired: true } satisfies FetchResult;
      if (shardIterator === undefined) return;
      if (shardIterator === GONE) {
        yield expired;
        return;
      }
      let pending: Promise<Fetched> | undefined = fetch(shardIterator);
      while (pending) {
        const got = await pending;
        pending = undefined;
        if (!got.ok) {
          if (got.gone) yield expired;
          return;
        }
        const { out } = got;
        const records = out.Records ?? [];
        const last = records[records.length - 1];
        if (last?.SequenceNumber) resume = { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: last.SequenceNumber };
        const mbl = out.MillisBehindLatest;
        if (!out.NextShardIterator) {
          // A closed shard read to its end: null NextShardIterator with ChildShards (checklist 3.5).
          yield { records, millisBehindLatest: mbl, childShards: out.ChildShards ?? [] } satisfies FetchResult;
          return;
        }
        const next = out.NextShardIterator;
        const caughtUp = records.length === 0 || mbl === 0;
        if (!caughtUp) pending = fetch(next);
        yield { records, millisBehindLatest: mbl };
        if (signal.aborted) return;
        if (caughtUp) {
          await sleep(o.idleTimeBetweenReadsMs, signal);
          pending = fetch(next);
        }
      }
    },
  };
}
