import { AwsError, errors } from '../../core/errors.js';
import { parseShardId, shardIdOf } from '../../core/ids.js';
import { CborTagged, encodeCbor } from '../../wire/cbor.js';
import { EventStreamOutput } from '../../wire/dispatch.js';
import { encodeEvent, encodeException } from '../../wire/event-stream.js';
import type { OpContext } from '../context.js';
import type { StreamsService, StreamState, Subscription } from '../service.js';
import { MiB, TokenBucket } from '../throttle.js';
import type { ShardMeta } from '../types.js';
import { findConsumer } from './consumers.js';
import { startingPosition } from './get-shard-iterator.js';

interface Input {
  ConsumerARN: string;
  ShardId: string;
  StartingPosition: {
    Type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
    SequenceNumber?: string;
    Timestamp?: number;
  };
}

/** A subscription lasts at most 5 minutes; a second call within 5 s is refused (checklist 1.3). */
export const SUBSCRIPTION_MS = 5 * 60_000;
export const RESUBSCRIBE_MS = 5_000;
/** Dedicated read throughput per consumer and shard. */
const BYTES_PER_SEC = 2 * MiB;
/** Records per event are capped by size so that events stay small and latency low. */
const EVENT_MAX_BYTES = 1 * MiB;
const EVENT_MAX_RECORDS = 10_000;

const recentStarts = new WeakMap<StreamsService, Map<string, number>>();

export async function subscribeToShard(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const { st, consumer } = await findConsumer(ctx, { ConsumerARN: input.ConsumerARN });
  if (consumer.status !== 'ACTIVE') {
    throw errors.ResourceInUseException(`Consumer ${consumer.arn} is not in ACTIVE state, instead in state ${consumer.status}.`);
  }
  const index = parseShardId(input.ShardId);
  const shard = index === undefined ? undefined : svc.liveShards(st).find((s) => s.index === index);
  if (!shard) {
    throw errors.ResourceNotFoundException(`Shard ${input.ShardId} in stream ${st.meta.name} under account ${st.meta.accountId} does not exist`);
  }
  const key = `${consumer.arn}|${shard.index}`;
  const now = svc.clock.now();
  let starts = recentStarts.get(svc);
  if (!starts) recentStarts.set(svc, (starts = new Map()));
  const last = starts.get(key);
  if (last !== undefined && now - last < RESUBSCRIBE_MS) {
    throw errors.ResourceInUseException(
      `Another active subscription exists for this consumer: ${consumer.arn} and shard ${shardIdOf(shard.index)}. Wait ${RESUBSCRIBE_MS / 1000} seconds before subscribing again.`,
    );
  }
  const sp = input.StartingPosition;
  const position = await startingPosition(ctx, st, shard, sp.Type, sp.SequenceNumber, sp.Timestamp);
  if (starts.size > 10_000) for (const [k, t] of starts) if (now - t >= RESUBSCRIBE_MS) starts.delete(k);
  starts.set(key, now);
  // A later call takes over: the earlier one ends with ResourceInUseException (checklist 1.3).
  svc.subscriptions.get(key)?.end(
    errors.ResourceInUseException(`Subscription for consumer ${consumer.arn} and shard ${shardIdOf(shard.index)} was taken over by a newer one.`),
  );
  const sub = new Stream(ctx, st, shard, consumer.arn, key, position, now);
  svc.subscriptions.set(key, sub);
  return new EventStreamOutput(sub.frames());
}

class Stream implements Subscription {
  readonly startedMs: number;
  #ended = false;
  #reason: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly ctx: OpContext,
    readonly st: StreamState,
    readonly shard: ShardMeta,
    readonly consumerArn: string,
    readonly key: string,
    public position: bigint,
    now: number,
  ) {
    this.startedMs = now;
  }

  end(reason?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reason = reason;
    this.#wake?.();
  }

  async *frames(): AsyncGenerator<Uint8Array> {
    const { ctx } = this;
    const svc = ctx.streams;
    const rt = svc.runtime(this.st, this.shard.index);
    const bucket = new TokenBucket(BYTES_PER_SEC, BYTES_PER_SEC, svc.clock.now());
    const onAppend = () => this.#wake?.();
    rt.listeners.add(onAppend);
    const onAbort = () => this.end();
    ctx.signal.addEventListener('abort', onAbort);
    let lastEmit = Date.now();
    try {
      yield encodeEvent('initial-response', this.#payload({}), this.#contentType());
      for (;;) {
        if (this.#ended) break;
        const st = await svc.byId(this.st.meta.id);
        const shard = st?.shard(this.shard.index);
        if (!st || !shard || !st.meta.consumers.some((c) => c.arn === this.consumerArn && c.status === 'ACTIVE')) {
          this.#reason ??= errors.ResourceNotFoundException(`Consumer ${this.consumerArn} or its stream no longer exists.`);
          break;
        }
        if (svc.clock.now() - this.startedMs >= SUBSCRIPTION_MS) break;
        if (svc.options.throttle && !bucket.available(svc.clock.now())) {
          await this.#sleep(100);
          continue;
        }
        const { records, next } = await svc.read(st, shard, this.position, { maxRecords: EVENT_MAX_RECORDS, maxBytes: EVENT_MAX_BYTES });
        if (records.length > 0) {
          this.position = next;
          let bytes = 0;
          const out = records.map((r) => {
            const data = svc.plain(r);
            bytes += data.length + Buffer.byteLength(r.partitionKey);
            return {
              SequenceNumber: svc.sequenceNumber(shard, r.position, r.arrivalMs),
              ApproximateArrivalTimestamp: r.arrivalMs,
              Data: data,
              PartitionKey: r.partitionKey,
              ...(r.keyId !== 0 ? { EncryptionType: 'KMS' } : {}),
            };
          });
          if (svc.options.throttle) bucket.charge(bytes, svc.clock.now());
          const lastRec = records[records.length - 1]!;
          const behind = next >= rt.durable ? 0 : Math.max(0, svc.clock.now() - lastRec.arrivalMs);
          const ended = this.#atEnd(shard, rt.inflight);
          // At the end of a closed shard the last event has ChildShards and no continuation
          // sequence number: the KCL's contract (checklist 1.3).
          yield this.#event(
            ended
              ? { Records: out, MillisBehindLatest: 0, ChildShards: svc.childShards(st, shard) }
              : { Records: out, ContinuationSequenceNumber: out[out.length - 1]!.SequenceNumber, MillisBehindLatest: behind },
          );
          lastEmit = Date.now();
          if (ended) return;
          continue;
        }
        if (this.#atEnd(shard, rt.inflight)) {
          yield this.#event({ Records: [], MillisBehindLatest: 0, ChildShards: svc.childShards(st, shard) });
          return;
        }
        const idle = Date.now() - lastEmit;
        if (idle >= svc.options.heartbeatMs) {
          // Progress while idle: the continuation point is the last position read.
          yield this.#event({ Records: [], ContinuationSequenceNumber: this.#continuation(shard), MillisBehindLatest: 0 });
          lastEmit = Date.now();
          continue;
        }
        await this.#sleep(svc.options.heartbeatMs - idle);
      }
      if (this.#reason) {
        const type = this.#reason instanceof AwsError ? this.#reason.type : 'InternalFailureException';
        yield encodeException(type, this.#reason.message);
      }
    } finally {
      rt.listeners.delete(onAppend);
      ctx.signal.removeEventListener('abort', onAbort);
      this.#ended = true;
      if (svc.subscriptions.get(this.key) === this) svc.subscriptions.delete(this.key);
    }
  }

  #atEnd(shard: ShardMeta, inflight: number): boolean {
    if (shard.endPosition === undefined) return false;
    return this.position >= BigInt(shard.endPosition) || inflight === 0 && this.position >= this.ctx.streams.runtime(this.st, shard.index).durable;
  }

  /** A sequence number from which AFTER_SEQUENCE_NUMBER resumes at the current position. */
  #continuation(shard: ShardMeta): string {
    const svc = this.ctx.streams;
    return svc.sequenceNumber(shard, this.position - 1n, this.position > 1n ? svc.runtime(this.st, shard.index).lastArrivalMs : shard.createdMs);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(1, ms));
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  #contentType(): string {
    return this.ctx.format === 'cbor' ? 'application/x-amz-cbor-1.1' : 'application/json';
  }

  #payload(v: Record<string, unknown>): Buffer {
    return this.ctx.format === 'cbor' ? encodeCbor(v) : Buffer.from(JSON.stringify(v));
  }

  #event(e: { Records: { SequenceNumber: string; ApproximateArrivalTimestamp: number; Data: Uint8Array; PartitionKey: string; EncryptionType?: string }[]; ContinuationSequenceNumber?: string; MillisBehindLatest: number; ChildShards?: unknown[] }): Buffer {
    const cbor = this.ctx.format === 'cbor';
    const Records = e.Records.map((r) => ({
      ...r,
      ApproximateArrivalTimestamp: cbor ? new CborTagged(1, r.ApproximateArrivalTimestamp) : r.ApproximateArrivalTimestamp / 1000,
      Data: cbor ? r.Data : Buffer.from(r.Data.buffer, r.Data.byteOffset, r.Data.byteLength).toString('base64'),
    }));
    return encodeEvent('SubscribeToShardEvent', this.#payload({ ...e, Records }), this.#contentType());
  }
}
