// Enhanced fan-out retrieval: SubscribeToShard, re-subscribed from the last continuation sequence
// number when the 5-minute subscription ends (checklist 1.3).
import {
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  RegisterStreamConsumerCommand,
  type StartingPosition as SdkStartingPosition,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { asError, awsErrorName } from './errors.js';
import type { FetchResult, Fetcher, ShardGoneCheck, StartingPosition } from './retrieval.js';
import type { ConsumerEvent } from './types.js';
import { Backoff, callOptions, sleep } from './util.js';

export interface FanOutOptions {
  client: KinesisClient;
  consumerARN: string;
  shardId: string;
  /** Asked when SubscribeToShard says ResourceNotFoundException: a gone shard ends reading (FetchResult.expired). */
  shardGone: ShardGoneCheck;
  onEvent: (e: ConsumerEvent) => void;
}

function sdkPosition(p: StartingPosition): SdkStartingPosition {
  switch (p.type) {
    case 'AT_SEQUENCE_NUMBER':
    case 'AFTER_SEQUENCE_NUMBER':
      return { Type: p.type, SequenceNumber: p.sequenceNumber };
    case 'AT_TIMESTAMP':
      return { Type: p.type, Timestamp: p.timestamp };
    default:
      return { Type: p.type };
  }
}

/** No event for this long ends a subscription, which is then made again. */
const SILENCE_MS = 35_000;

export function createFanOutFetcher(o: FanOutOptions): Fetcher {
  return {
    async *batches(start, signal) {
      let position = start;
      const backoff = new Backoff(250, 5_000);
      while (!signal.aborted) {
        // Each subscription has its own abort so that leaving the loop ends the HTTP/2 stream.
        const sub = new AbortController();
        const onAbort = () => sub.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        // The service sends an event at least every few seconds, records or not; a silent
        // subscription is a dead one.
        let watchdog = setTimeout(() => sub.abort(), SILENCE_MS);
        const alive = () => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => sub.abort(), SILENCE_MS);
        };
        try {
          const r = await o.client.send(new SubscribeToShardCommand({ ConsumerARN: o.consumerARN, ShardId: o.shardId, StartingPosition: sdkPosition(position) }), {
            abortSignal: sub.signal,
          });
          for await (const ev of r.EventStream ?? []) {
            alive();
            const e = ev.SubscribeToShardEvent;
            if (!e) continue;
            backoff.reset();
            const records = e.Records ?? [];
            const csn = e.ContinuationSequenceNumber;
            if ((csn === undefined || csn === null) && e.ChildShards && e.ChildShards.length > 0) {
              // Shard end: no continuation and the children (the KCL's contract, checklist 1.3).
              yield { records, millisBehindLatest: e.MillisBehindLatest, childShards: e.ChildShards } satisfies FetchResult;
              return;
            }
            clearTimeout(watchdog); // Processing time is not silence.
            yield { records, millisBehindLatest: e.MillisBehindLatest };
            alive();
            if (csn) position = { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: csn };
            if (signal.aborted) return;
          }
          // The service ended the subscription (its 5 minutes are up): subscribe again.
        } catch (e) {
          if (signal.aborted) return;
          const name = awsErrorName(e);
          if (name === 'ResourceInUseException' || name === 'LimitExceededException') {
            // A subscription for this shard started under 5 s ago (ours before a hand-over, or the
            // previous owner's): wait and try again (checklist 1.3).
            o.onEvent({ type: 'throttled', shardId: o.shardId, operation: 'SubscribeToShard' });
            await sleep(Math.max(1_000, backoff.next()), signal);
          } else {
            // The shard aged out of retention (the consumer or stream being gone also says
            // ResourceNotFoundException: those are retried).
            if (name === 'ResourceNotFoundException' && (await o.shardGone(signal).catch(() => false))) {
              o.onEvent({ type: 'shardExpired', shardId: o.shardId });
              yield { records: [], millisBehindLatest: undefined, childShards: [], expired: true } satisfies FetchResult;
              return;
            }
            o.onEvent({ type: 'error', operation: 'SubscribeToShard', shardId: o.shardId, error: asError(e) });
            await sleep(backoff.next(), signal);
          }
        } finally {
          clearTimeout(watchdog);
          signal.removeEventListener('abort', onAbort);
          sub.abort();
        }
      }
    },
  };
}

/**
 * The stream consumer for fan-out: described, else registered, then waited for until ACTIVE.
 * Workers starting together race to register; losers find it by describing.
 */
export async function ensureStreamConsumer(client: KinesisClient, streamARN: string, consumerName: string, signal?: AbortSignal): Promise<string> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    let arn: string | undefined;
    let status: string | undefined;
    try {
      const d = await client.send(new DescribeStreamConsumerCommand({ StreamARN: streamARN, ConsumerName: consumerName }), callOptions(signal));
      arn = d.ConsumerDescription?.ConsumerARN;
      status = d.ConsumerDescription?.ConsumerStatus;
    } catch (e) {
      if (awsErrorName(e) !== 'ResourceNotFoundException') throw e;
      try {
        const r = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamARN, ConsumerName: consumerName }), callOptions(signal));
        arn = r.Consumer?.ConsumerARN;
        status = r.Consumer?.ConsumerStatus;
      } catch (e2) {
        if (awsErrorName(e2) !== 'ResourceInUseException') throw e2;
      }
    }
    if (arn && status === 'ACTIVE') return arn;
    if (Date.now() > deadline) throw new Error(`stream consumer ${consumerName} not ACTIVE after 5 minutes (${status})`);
    await sleep(500, signal);
    if (signal?.aborted) throw new Error('aborted');
  }
}

export async function streamARNOf(client: KinesisClient, stream: { StreamName: string } | { StreamARN: string }, signal?: AbortSignal): Promise<string> {
  if ('StreamARN' in stream) return stream.StreamARN;
  const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream.StreamName }), callOptions(signal));
  const arn = s.StreamDescriptionSummary?.StreamARN;
  if (!arn) throw new Error(`DescribeStreamSummary of ${stream.StreamName} returned no StreamARN`);
  return arn;
}
