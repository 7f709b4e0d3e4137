import { AwsError, errors } from '../../core/errors.js';
import { parseShardId, shardIdOf } from '../../core/ids.js';
import { encodeCbor } from '../../wire/cbor.js';
import { EventStreamOutput } from '../../wire/dispatch.js';
import { encodeEvent, encodeEventMessage } from '../../wire/event-stream.js';
import { model as kinesisModel } from '../../wire/generated/kinesis.js';
import { encodeShape } from '../../wire/shapes.js';
import type { OpContext } from '../context.js';
import type { ShardRuntime, StreamsService, StreamState, Subscription } from '../service.js';
import { MiB, TokenBucket } from '../throttle.js';
import type { ShardMeta } from '../types.js';
import { findConsumer } from './consumers.js';
import { renderRecords, type WireRecord } from './render.js';
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
/** Dedicated read throughput per consumer and shard (checklist 1.3), with one second of burst. */
const BYTES_PER_SEC = 2 * MiB;
/** How often a subscription in throughput debt looks again (real time). */
const THROTTLE_POLL_MS = 100;
/** Records per event are capped by size so that events stay small and latency low. */
const EVENT_MAX_BYTES = 1 * MiB;
const EVENT_MAX_RECORDS = 10_000;

/**
 * What outlives one subscription of a consumer to a shard: when it last started (the 5-second
 * rule) and its throughput bucket, so that re-subscribing does not reset the 2 MiB/s budget.
 */
interface Slot {
  lastStartMs: number;
  readonly bucket: TokenBucket;
}
const slotsByService = new WeakMap<StreamsService, Map<string, Slot>>();

function slotsOf(svc: StreamsService): Map<string, Slot> {
  let slots = slotsByService.get(svc);
  if (!slots) slotsByService.set(svc, (slots = new Map()));
  return slots;
}

/**
 * Forgets slots that can no longer refuse a call (started 5 s ago or more, no live subscription).
 * Runs when the map outgrows the live subscriptions, so it stays proportional to them.
 */
function sweep(svc: StreamsService, slots: Map<string, Slot>, now: number): void {
  if (slots.size <= 2 * svc.subscriptions.size + 64) return;
  for (const [k, s] of slots) if (now - s.lastStartMs >= RESUBSCRIBE_MS && !svc.subscriptions.has(k)) slots.delete(k);
}

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
  const slots = slotsOf(svc);
  const refuseIfRecent = (slot: Slot | undefined): void => {
    if (slot !== undefined && now - slot.lastStartMs < RESUBSCRIBE_MS) {
      throw errors.ResourceInUseException(
        `Another active subscription exists for this consumer: ${consumer.arn} and shard ${shardIdOf(shard.index)}. Wait ${RESUBSCRIBE_MS / 1000} seconds before subscribing again.`,
      );
    }
  };
  refuseIfRecent(slots.get(key));
  const sp = input.StartingPosition;
  const position = await startingPosition(ctx, st, shard, sp.Type, sp.SequenceNumber, sp.Timestamp);
  sweep(svc, slots, now);
  // Re-checked after the await: two calls racing through startingPosition must not both start.
  const again = slots.get(key);
  refuseIfRecent(again);
  const bucket = again?.bucket ?? new TokenBucket(BYTES_PER_SEC, BYTES_PER_SEC, now);
  if (again) again.lastStartMs = now;
  else slots.set(key, { lastStartMs: now, bucket });
  // A later call takes over: the earlier one ends with ResourceInUseException (checklist 1.3).
  svc.subscriptions.get(key)?.end(
    errors.ResourceInUseException(`Subscription for consumer ${consumer.arn} and shard ${shardIdOf(shard.index)} was taken over by a newer one.`),
  );
  const sub = new Stream(ctx, st, shard, consumer.arn, key, position, now, bucket);
  svc.subscriptions.set(key, sub);
  if (ctx.signal.aborted) sub.release();
  return new EventStreamOutput(sub.frames(), sub.ended, svc.options.stalledStreamMs);
}

type EventRecord = WireRecord;

interface Event {
  Records: EventRecord[];
  ContinuationSequenceNumber?: string;
  MillisBehindLatest: number;
  ChildShards?: unknown[];
}

/**
 * One SubscribeToShard call. `frames()` is pulled by the wire layer one message at a time, only
 * when the previous one was taken by the transport (back-pressure), so a slow reader holds at most
 * one event here. The loop sleeps until an append to the shard makes records durable (pushed at
 * once, no polling), the heartbeat is due, the 5 minutes are up, or something ends it.
 */
class Stream implements Subscription {
  readonly startedMs: number;
  #ended = false;
  readonly #endedSignal = new AbortController();
  #reason: Error | undefined;
  #wake: (() => void) | undefined;
  /** The final event of a closed shard, once sent. */
  #last: Buffer | undefined;
  /** When the last event went out (real time, for the heartbeat). */
  #lastEmit = Date.now();
  #started = false;
  /**
   * A client that leaves before the wire layer first pulls `frames()` never runs its body (nor
   * its finally): this frees the subscription then.
   */
  readonly #onEarlyAbort = () => {
    if (!this.#started) this.release();
  };

  constructor(
    readonly ctx: OpContext,
    readonly st: StreamState,
    readonly shard: ShardMeta,
    readonly consumerArn: string,
    readonly key: string,
    public position: bigint,
    now: number,
    readonly bucket: TokenBucket,
  ) {
    this.startedMs = now;
    ctx.signal.addEventListener('abort', this.#onEarlyAbort, { once: true });
  }

  /** Ends it and drops it from the live subscriptions (if still the live one for its key). */
  release(): void {
    this.end();
    this.ctx.signal.removeEventListener('abort', this.#onEarlyAbort);
    const live = this.ctx.streams.subscriptions;
    if (live.get(this.key) === this) live.delete(this.key);
  }

  end(reason?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reason = reason;
    this.#endedSignal.abort();
    this.#wake?.();
  }

  /** Fired by end(): the wire layer then gives a client that stopped reading a deadline. */
  get ended(): AbortSignal {
    return this.#endedSignal.signal;
  }

  async *frames(): AsyncGenerator<Uint8Array> {
    const { ctx } = this;
    this.#started = true;
    if (ctx.signal.aborted) {
      this.release();
      return;
    }
    const svc = ctx.streams;
    const rt = svc.runtime(this.st, this.shard.index);
    const onAppend = () => this.#wake?.();
    rt.listeners.add(onAppend);
    const onAbort = () => this.end();
    ctx.signal.addEventListener('abort', onAbort);
    try {
      // Every event stream of an RPC protocol starts with the operation's non-stream output
      // members; SubscribeToShard has none (checklist 1.3; botocore refuses a stream without it).
      yield encodeEvent('initial-response', this.#format() === 'cbor' ? encodeCbor({}) : Buffer.from('{}'), this.#contentType());
      try {
        for (;;) {
          const frame = await this.#next(rt);
          if (frame === undefined) break;
          yield frame;
        }
      } catch (e) {
        // Anything that fails once the stream has started reaches the client as an exception
        // message, never as a torn connection (checklist 1.3).
        this.#reason = e instanceof AwsError ? e : errors.InternalFailureException('Internal Service Failure');
      }
      if (this.#reason === undefined && !ctx.signal.aborted && this.#ended) this.#reason = await this.#whyEnded();
      if (this.#reason !== undefined && !ctx.signal.aborted) yield this.#exception(this.#reason);
    } finally {
      rt.listeners.delete(onAppend);
      ctx.signal.removeEventListener('abort', onAbort);
      this.#wake = undefined;
      this.release();
    }
  }

  /** The next frame to send, or undefined when the stream is over. */
  async #next(rt: ShardRuntime): Promise<Buffer | undefined> {
    const svc = this.ctx.streams;
    for (;;) {
      if (this.#ended) return undefined;
      const now = svc.clock.now();
      const lifeLeft = SUBSCRIPTION_MS - (now - this.startedMs);
      // The 5 minutes are up: the stream ends normally and the client re-subscribes (checklist 1.3).
      if (lifeLeft <= 0) return undefined;
      const st = await svc.byId(this.st.meta.id);
      const shard = st?.shard(this.shard.index);
      if (!st || !shard || !st.meta.consumers.some((c) => c.arn === this.consumerArn && c.status === 'ACTIVE')) {
        this.#reason ??= notFound(this.consumerArn);
        return undefined;
      }
      if (svc.options.throttle && !this.bucket.available(now)) {
        await this.#sleep(Math.min(THROTTLE_POLL_MS, lifeLeft));
        continue;
      }
      const durable = rt.durable;
      const inflight = rt.inflight;
      const batch = await readEvent(svc, st, shard, rt, this.position, this.#format());
      if (this.#ended) return undefined;
      if (batch !== undefined) {
        this.position = batch.next;
        if (svc.options.throttle) this.bucket.charge(batch.bytes, svc.clock.now());
        this.#lastEmit = Date.now();
        if (batch.final) {
          this.#ended = true;
          this.#last = batch.frame;
        }
        return batch.frame;
      }
      // Nothing at or after `position` below what was durable before the read: those positions
      // were abandoned by failed appends (or trimmed), so the read may move past them.
      if (inflight === 0 && durable > this.position) this.position = durable;
      if (atEnd(shard, rt, this.position)) return this.#final(st, shard);
      const idle = Date.now() - this.#lastEmit;
      if (idle >= svc.options.heartbeatMs) {
        // Progress while idle: the continuation point is the last position read.
        this.#lastEmit = Date.now();
        return encodeSubscribeEvent({ Records: [], ContinuationSequenceNumber: this.#continuation(shard, rt), MillisBehindLatest: 0 }, this.#format());
      }
      await this.#sleep(Math.min(svc.options.heartbeatMs - idle, lifeLeft));
    }
  }

  /** The end of a closed shard read to its end: no records left, the children. */
  #final(st: StreamState, shard: ShardMeta): Buffer {
    this.#ended = true;
    this.#last = encodeSubscribeEvent({ Records: [], MillisBehindLatest: 0, ChildShards: this.ctx.streams.childShards(st, shard) }, this.#format());
    return this.#last;
  }

  /** Why the stream was ended without a reason: its consumer or stream went away, or nothing. */
  async #whyEnded(): Promise<Error | undefined> {
    if (this.#last !== undefined) return undefined;
    const st = await this.ctx.streams.byId(this.st.meta.id);
    if (!st || !st.meta.consumers.some((c) => c.arn === this.consumerArn && c.status === 'ACTIVE')) return notFound(this.consumerArn);
    return undefined;
  }

  /**
   * A sequence number from which AFTER_SEQUENCE_NUMBER resumes at the current position: the last
   * position read, or the shard's StartingSequenceNumber when nothing was read yet.
   */
  #continuation(shard: ShardMeta, rt: ShardRuntime): string {
    const svc = this.ctx.streams;
    if (this.position <= 1n) return svc.startingSequenceNumber(shard);
    return svc.sequenceNumber(shard, this.position - 1n, rt.lastArrivalMs);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
      const t = setTimeout(done, Math.max(1, ms));
      this.#wake = done;
    });
  }

  #format(): 'json' | 'cbor' {
    return this.ctx.format;
  }

  #contentType(): string {
    return contentType(this.#format());
  }


  /** A modeled in-stream error (checklist 1.3); anything unmodeled goes as InternalFailureException. */
  #exception(e: Error): Buffer {
    const type = e instanceof AwsError && MODELED.has(e.type) ? e.type : 'InternalFailureException';
    const body = { message: e.message };
    return encodeEventMessage({
      headers: {
        ':exception-type': { type: 'string', value: type },
        ':content-type': { type: 'string', value: this.#contentType() },
        ':message-type': { type: 'string', value: 'exception' },
      },
      payload: this.#format() === 'cbor' ? encodeCbor(body) : Buffer.from(JSON.stringify(body)),
    });
  }
}

/** Events are encoded as the request was (checklist 1.2: the Java SDK reads CBOR payloads). */
function contentType(format: 'json' | 'cbor'): string {
  return format === 'cbor' ? 'application/x-amz-cbor-1.1' : 'application/json';
}

function encodeSubscribeEvent(e: Event, format: 'json' | 'cbor'): Buffer {
  return encodeEvent('SubscribeToShardEvent', encodeShape(kinesisModel, 'SubscribeToShardEvent', e, format), contentType(format));
}

/** Whether a read at `position` has nothing more to find in a closed shard. */
function atEnd(shard: ShardMeta, rt: ShardRuntime, position: bigint): boolean {
  if (shard.endPosition === undefined) return false;
  return position >= BigInt(shard.endPosition) || (rt.inflight === 0 && position >= rt.durable);
}

/** Records read from a position, as one encoded event. */
interface Batch {
  readonly frame: Buffer;
  /** The position after the last record. */
  readonly next: bigint;
  /** Data and partition key bytes, charged to each subscription's throughput. */
  readonly bytes: number;
  /** The last event of a closed shard (ChildShards, no continuation). */
  readonly final: boolean;
}

/**
 * Reads done for subscriptions, shared while in flight: every consumer of a shard wakes on the
 * same append and usually reads from the same position, so the first one reads and encodes the
 * event and the others take the same frame. An entry lives only until its read settles (plus one
 * turn of the event loop), so the map never holds more than the frames being built.
 */
const inFlight = new WeakMap<ShardRuntime, Map<string, Promise<Batch | undefined>>>();

function readEvent(svc: StreamsService, st: StreamState, shard: ShardMeta, rt: ShardRuntime, from: bigint, format: 'json' | 'cbor'): Promise<Batch | undefined> {
  // What else decides the event's content: what was durable, and whether the shard had closed.
  const key = `${from}|${rt.durable}|${rt.inflight}|${shard.endPosition ?? ''}|${format}`;
  let reads = inFlight.get(rt);
  if (!reads) inFlight.set(rt, (reads = new Map()));
  const shared = reads.get(key);
  if (shared) return shared;
  const p = buildEvent(svc, st, shard, rt, from, format);
  reads.set(key, p);
  const forget = () => setImmediate(() => reads.get(key) === p && reads.delete(key));
  p.then(forget, forget);
  return p;
}

async function buildEvent(svc: StreamsService, st: StreamState, shard: ShardMeta, rt: ShardRuntime, from: bigint, format: 'json' | 'cbor'): Promise<Batch | undefined> {
  const { records, next } = await svc.read(st, shard, from, { maxRecords: EVENT_MAX_RECORDS, maxBytes: EVENT_MAX_BYTES });
  if (records.length === 0) return undefined;
  const { records: out, bytes } = renderRecords(svc, shard, records);
  // At the end of a closed shard the last event has ChildShards and no continuation sequence
  // number: the KCL's contract (checklist 1.3).
  if (atEnd(shard, rt, next)) {
    return { frame: encodeSubscribeEvent({ Records: out, MillisBehindLatest: 0, ChildShards: svc.childShards(st, shard) }, format), next, bytes, final: true };
  }
  const last = records[records.length - 1]!;
  const behind = next >= rt.durable ? 0 : Math.max(0, svc.clock.now() - last.arrivalMs);
  const e = { Records: out, ContinuationSequenceNumber: out[out.length - 1]!.SequenceNumber, MillisBehindLatest: behind };
  return { frame: encodeSubscribeEvent(e, format), next, bytes, final: false };
}

/** The exception members of SubscribeToShardEventStream. */
const MODELED = new Set([
  'ResourceNotFoundException',
  'ResourceInUseException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSAccessDeniedException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'KMSThrottlingException',
  'InternalFailureException',
]);

function notFound(consumerArn: string): AwsError {
  return errors.ResourceNotFoundException(`Consumer ${consumerArn} or its stream no longer exists.`);
}
