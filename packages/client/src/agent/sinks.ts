// Where a flow's records go. Both sinks retry a record until the destination stores it or the sink
// is closed, as the Kinesis Agent does (it never drops a parsed record because of a send failure);
// so send() resolves exactly when the record is acknowledged, which is what checkpoints rely on.
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Producer, ProducerOptions } from '../producer/index.js';
import { AgentError, AgentErrorCode } from './errors.js';

export interface Sink {
  /** Resolves once the destination has stored the record; rejects only if the sink is closed first. */
  send(data: Buffer, partitionKey: string): Promise<void>;
  /** Sends what is buffered now and waits until everything given so far has settled. */
  flush(): Promise<void>;
  /** Stops at once: records not yet stored are rejected (they stay unacknowledged). Idempotent. */
  close(): Promise<void>;
}

export interface SinkEvents {
  /** A send attempt of `records` records failed; they will be tried again. */
  onAttemptFailed(records: number, reason: string): void;
}

export interface RetryOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Exponential back-off with full jitter. */
export function backoff(attempt: number, r: RetryOptions, random: () => number = Math.random): number {
  const cap = Math.min(r.maxMs, r.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap) + 1;
}

function closedError(what: string): AgentError {
  return new AgentError(AgentErrorCode.CLOSED, `${what}: the agent is closing`, { retryable: true });
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.name === 'Error' ? e.message : `${e.name}: ${e.message}`;
  return String(e);
}

function noop(): void {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export type ProducerFactory = (options: ProducerOptions) => Producer;

export interface KinesisSinkOptions {
  readonly streamName: string;
  readonly client: KinesisClient;
  readonly createProducer: ProducerFactory;
  readonly lingerMs: number;
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  readonly retry: RetryOptions;
  readonly events: SinkEvents;
}

/** kinesisStream flows: records go through the producer (PutRecords batching, per-shard shaping, retries). */
export class KinesisSink implements Sink {
  readonly #o: KinesisSinkOptions;
  readonly #producer: Producer;
  readonly #abort = new AbortController();

  constructor(o: KinesisSinkOptions) {
    this.#o = o;
    this.#producer = o.createProducer({
      streamName: o.streamName,
      client: o.client,
      // The agent sends one Kinesis record per file record; KPL aggregation would change what
      // consumers of the stream read.
      aggregation: false,
      lingerMs: o.lingerMs,
      maxBatchRecords: o.maxBatchRecords,
      // The producer needs room for a whole record in a batch.
      maxBatchBytes: Math.max(o.maxBatchBytes, 1024 * 1024),
      retry: { baseMs: o.retry.initialMs, maxMs: Math.max(o.retry.maxMs, o.retry.initialMs) },
      signal: this.#abort.signal,
    });
  }

  send(data: Buffer, partitionKey: string): Promise<void> {
    return this.#producer.put({ partitionKey, data }).then(noop, (e: unknown) => this.#retry(data, partitionKey, e));
  }

  async #retry(data: Buffer, partitionKey: string, first: unknown): Promise<void> {
    let e = first;
    for (let attempt = 0; ; attempt++) {
      if (this.#abort.signal.aborted) throw closedError(`kinesis:${this.#o.streamName}`);
      // The producer gave up on this record (its TTL, or an error it deems final such as a
      // missing stream); the agent keeps trying, so the checkpoint never passes an unsent line.
      this.#o.events.onAttemptFailed(1, describe(e));
      await sleep(backoff(attempt, this.#o.retry), this.#abort.signal);
      if (this.#abort.signal.aborted) throw closedError(`kinesis:${this.#o.streamName}`);
      try {
        await this.#producer.put({ partitionKey, data });
        return;
      } catch (err) {
        e = err;
      }
    }
  }

  flush(): Promise<void> {
    return this.#producer.flush();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#producer.close().catch(() => undefined);
  }
}

/** What the Firehose sink needs from a Firehose client: PutRecordBatch. */
export interface FirehosePort {
  putRecordBatch(
    deliveryStreamName: string,
    records: readonly Uint8Array[],
    signal: AbortSignal,
  ): Promise<{ failedPutCount: number; responses: readonly { errorCode?: string | undefined; errorMessage?: string | undefined }[] }>;
}

export interface FirehoseSinkOptions {
  readonly deliveryStreamName: string;
  readonly port: FirehosePort;
  readonly maxBufferAgeMillis: number;
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  /** Largest Firehose record (1000 KiB). */
  readonly maxRecordBytes: number;
  /** > 0: consecutive records are packed into one Firehose record up to this size (aggregatedRecordSizeBytes). */
  readonly aggregatedRecordSizeBytes: number;
  readonly retry: RetryOptions;
  readonly maxConcurrentBatches?: number;
  readonly events: SinkEvents;
  readonly now?: () => number;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

interface Item {
  parts: Buffer[];
  size: number;
  waiters: Waiter[];
  attempts: number;
  /** When it became ready; 0 for retries (due at once). */
  readyAt: number;
  /** Still accepting more records (aggregation). */
  open: boolean;
}

/**
 * deliveryStream flows: a small PutRecordBatch batcher. A batch goes out when it has
 * maxBufferSizeRecords records or maxBufferSizeBytes bytes, or when its oldest record is
 * maxBufferAgeMillis old. Records that come back with an ErrorCode (FailedPutCount > 0) are retried
 * alone, after a back-off; a failed call retries all of its records.
 */
export class FirehoseSink implements Sink {
  readonly #o: FirehoseSinkOptions;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  readonly #maxConcurrent: number;
  #queue: Item[] = [];
  #queueBytes = 0;
  #inFlight = 0;
  #retrying = new Map<NodeJS.Timeout, Item[]>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #urgent = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(o: FirehoseSinkOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#maxConcurrent = o.maxConcurrentBatches ?? 4;
  }

  send(data: Buffer, _partitionKey: string): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(closedError(`fh:${this.#o.deliveryStreamName}`));
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      const agg = this.#o.aggregatedRecordSizeBytes;
      const last = this.#queue[this.#queue.length - 1];
      if (agg > 0 && last !== undefined && last.open && last.size + data.length <= agg) {
        last.parts.push(data);
        last.size += data.length;
        last.waiters.push(waiter);
        this.#queueBytes += data.length;
      } else {
        this.#queue.push({ parts: [data], size: data.length, waiters: [waiter], attempts: 0, readyAt: this.#now(), open: agg > 0 });
        this.#queueBytes += data.length;
      }
      this.#dispatch();
    });
  }

  async flush(): Promise<void> {
    if (this.#idle()) return;
    this.#urgent++;
    try {
      const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      this.#dispatch();
      await idle;
    } finally {
      this.#urgent--;
    }
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    if (this.#timer) clearTimeout(this.#timer);
    const err = closedError(`fh:${this.#o.deliveryStreamName}`);
    for (const [t, items] of this.#retrying) {
      clearTimeout(t);
      for (const i of items) for (const w of i.waiters) w.reject(err);
    }
    this.#retrying.clear();
    for (const i of this.#queue) for (const w of i.waiters) w.reject(err);
    this.#queue = [];
    this.#queueBytes = 0;
    this.#notifyIdle();
  }

  #idle(): boolean {
    return this.#queue.length === 0 && this.#inFlight === 0 && this.#retrying.size === 0;
  }

  #notifyIdle(): void {
    if (!this.#idle() && !this.#abort.signal.aborted) return;
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of w) f();
  }

  #dispatch(): void {
    if (this.#abort.signal.aborted) return;
    const o = this.#o;
    while (this.#inFlight < this.#maxConcurrent && this.#queue.length > 0) {
      const head = this.#queue[0] as Item;
      const full = this.#queue.length >= o.maxBatchRecords || this.#queueBytes >= o.maxBatchBytes;
      const due = this.#urgent > 0 || head.readyAt + o.maxBufferAgeMillis <= this.#now();
      // An item still open for aggregation is sent once due or full; it then closes.
      if (!full && !due) break;
      const batch: Item[] = [];
      let bytes = 0;
      while (this.#queue.length > 0 && batch.length < o.maxBatchRecords) {
        const next = this.#queue[0] as Item;
        if (batch.length > 0 && bytes + next.size > o.maxBatchBytes) break;
        this.#queue.shift();
        next.open = false;
        this.#queueBytes -= next.size;
        bytes += next.size;
        batch.push(next);
      }
      this.#inFlight++;
      void this.#sendBatch(batch).finally(() => {
        this.#inFlight--;
        this.#dispatch();
        this.#notifyIdle();
      });
    }
    this.#arm();
  }

  #arm(): void {
    const head = this.#queue[0];
    if (head === undefined || this.#abort.signal.aborted) return;
    const at = head.readyAt + this.#o.maxBufferAgeMillis;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#dispatch();
      },
      Math.max(0, at - this.#now()),
    );
  }

  async #sendBatch(batch: Item[]): Promise<void> {
    const data = batch.map((i) => (i.parts.length === 1 ? (i.parts[0] as Buffer) : Buffer.concat(i.parts)));
    let failed: Item[];
    let reason = '';
    try {
      const r = await this.#o.port.putRecordBatch(this.#o.deliveryStreamName, data, this.#abort.signal);
      failed = [];
      if (r.failedPutCount > 0) {
        batch.forEach((item, i) => {
          const resp = r.responses[i];
          // No answer for a record counts as a failure: it is sent again rather than assumed stored.
          if (resp === undefined || resp.errorCode !== undefined) {
            failed.push(item);
            reason ||= resp === undefined ? 'no response entry' : `${resp.errorCode}: ${resp.errorMessage ?? ''}`;
          } else this.#settle(item);
        });
      } else batch.forEach((item) => this.#settle(item));
    } catch (e) {
      if (this.#abort.signal.aborted) {
        const err = closedError(`fh:${this.#o.deliveryStreamName}`);
        for (const i of batch) for (const w of i.waiters) w.reject(err);
        return;
      }
      failed = batch;
      reason = describe(e);
    }
    if (failed.length === 0) return;
    this.#o.events.onAttemptFailed(
      failed.reduce((n, i) => n + i.waiters.length, 0),
      reason,
    );
    const attempt = Math.max(...failed.map((i) => i.attempts++));
    const t = setTimeout(() => {
      this.#retrying.delete(t);
      for (const i of failed) {
        i.readyAt = 0;
        this.#queueBytes += i.size;
      }
      this.#queue.unshift(...failed);
      this.#dispatch();
    }, backoff(attempt, this.#o.retry));
    this.#retrying.set(t, failed);
  }

  #settle(item: Item): void {
    for (const w of item.waiters) w.resolve();
  }
}

/** The port over the AWS SDK's FirehoseClient (loaded on first use: only deliveryStream flows need it). */
export async function sdkFirehosePort(client: unknown): Promise<FirehosePort> {
  const { PutRecordBatchCommand } = await import('@aws-sdk/client-firehose');
  const c = client as { send(cmd: InstanceType<typeof PutRecordBatchCommand>, o: { abortSignal: AbortSignal }): Promise<import('@aws-sdk/client-firehose').PutRecordBatchOutput> };
  return {
    async putRecordBatch(name, records, signal) {
      const out = await c.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records.map((Data) => ({ Data })) }), { abortSignal: signal });
      return {
        failedPutCount: out.FailedPutCount ?? 0,
        responses: (out.RequestResponses ?? []).map((e) => ({ errorCode: e.ErrorCode, errorMessage: e.ErrorMessage })),
      };
    },
  };
}
