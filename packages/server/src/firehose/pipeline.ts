/**
 * One delivery stream's path from accepted records to its destination (checklist 4.5).
 *
 *   PutRecord(Batch) / Kinesis source
 *        │ append (durable before the answer: LogStore.append resolves after fsync)
 *        ▼
 *   buffer log (LogStore shard {streamId: logId, shardIndex: 0}, positions 1, 2, 3, ...)
 *        │ read in chunks from the read position
 *        ▼
 *   processors (de-aggregation, Lambda, jq, delimiter) and format conversion
 *        │
 *        ▼
 *   open buffers, one per partition (+ error outputs, + raw backup), each with the plan it was filled under
 *        │ sealed when SizeInMBs or IntervalInSeconds is reached (0 s: at once)
 *        ▼
 *   delivery with retries → S3 object / HTTP / Splunk / OpenSearch / Redshift, else the error prefix
 *
 * At-least-once across crashes: the log keeps every record until all the outputs made from it are
 * delivered. Records are read in position order, so each buffer's outputs come from increasing
 * positions and a buffer only needs to remember its first one. The *watermark*, the lowest
 * position still held by an undelivered buffer (or being processed, or not yet read), is persisted
 * in the MetaStore after deliveries and the log is trimmed below it. After a restart, reading
 * resumes at the watermark: nothing accepted is lost, and what can be delivered twice is only what
 * a buffer sealed after a lower-positioned one was waiting (another partition, the backup, an
 * error output).
 *
 * Time: buffer intervals, retry schedules and the 24-hour retention are decided by reading the
 * injected Clock; real timers (the service's tick) only wake the pipeline up.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { LogStore, MetaStore, ShardRef, StoredRecord } from '../storage/types.js';
import type { Components, DeliveryMeta } from './components.js';
import type { ObjectStore } from './destinations/s3.js';
import type { DeliveryMetric, FirehoseMetrics } from './metrics.js';
import { buildPlan, type Plan, type S3Target } from './plan.js';
import { evaluatePrefix, objectSuffix, type ErrorOutputType } from './prefix.js';
import type { Output, SourceRecord } from './processing.js';
import { type DeliveryStreamMeta, DeliveryStreamType, DestinationKind, type KinesisRecordMetadata, MiB, RETENTION_MS } from './types.js';

export interface PipelineDeps {
  readonly log: LogStore;
  readonly meta: MetaStore;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly components: Components;
  readonly metrics: FirehoseMetrics;
  readonly report: (line: string) => void;
}

export interface IngestRecord {
  readonly data: Uint8Array;
  readonly kinesis?: KinesisRecordMetadata | undefined;
}

type Role = 'main' | 'error' | 'backup';

/** Outputs on their way to one object (or one request to a destination). */
class OutBuffer {
  readonly items: Buffer[] = [];
  readonly arrivals: number[] = [];
  bytes = 0;
  oldestMs = Infinity;
  /** Position of the first record with an output here: the buffer holds the log from there. */
  minPos: bigint | undefined;
  attempts = 0;
  firstAttemptMs: number | undefined;
  nextAttemptMs = 0;
  lastError = '';
  lastErrorCode = '';
  /** Request id of a non-S3 delivery, stable across its retries (checklist 4.5). */
  requestId = randomUUID();
  /** Redshift: the intermediate object's bytes, once written. */
  intermediate: Buffer | undefined;

  constructor(
    readonly role: Role,
    readonly plan: Plan,
    readonly key: string,
    readonly partition: { query?: Readonly<Record<string, string>>; lambda?: Readonly<Record<string, string>> } | undefined,
    readonly errorType: ErrorOutputType | undefined,
  ) {}

  add(data: Buffer, arrivalMs: number, position: bigint): void {
    this.items.push(data);
    this.arrivals.push(arrivalMs);
    this.bytes += data.length;
    if (arrivalMs < this.oldestMs) this.oldestMs = arrivalMs;
    if (this.minPos === undefined || position < this.minPos) this.minPos = position;
  }
}

/** The log's view of progress, persisted under `firehose/progress/<logId>`. */
interface Progress {
  /** Every record below this position has been delivered (or given up on). */
  readonly delivered: string;
}

const READ_RECORDS = 2000;
const READ_BYTES = 4 * MiB;
/** S3 failures are retried every few seconds until the data is 24 hours old (checklist 4.5). */
const S3_RETRY_MAX_MS = 5_000;
/** HTTP-style destinations: 1 s, doubling, ±15 % jitter, at most 2 min (checklist 4.5). */
const HTTP_RETRY_MAX_MS = 120_000;
/** Active partitions per stream (checklist 4.7). */
const PARTITION_LIMIT = 500;

export class Pipeline {
  readonly ref: ShardRef;
  readonly #deps: PipelineDeps;
  #meta: DeliveryStreamMeta;
  #plan: Plan;
  #pendingMeta: DeliveryStreamMeta | undefined;

  /** Next position to hand out. */
  #next = 1n;
  /** Appends not yet durable, in position order. */
  readonly #inflight: { start: bigint; end: bigint }[] = [];
  /** Next position to read from the log. */
  #readPos = 1n;
  /** Starts of runs of records being processed (read, not yet in buffers), or whose processing threw. */
  readonly #holds = new Set<bigint>();
  #persisted = 1n;

  readonly #open = new Map<string, OutBuffer>();
  readonly #sealed: OutBuffer[] = [];
  #bufferedBytes = 0;

  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #forceFlush = false;
  /** Aborts destination requests in flight at close. */
  readonly #abort = new AbortController();

  constructor(meta: DeliveryStreamMeta, deps: PipelineDeps) {
    this.ref = { streamId: meta.logId, shardIndex: 0 };
    this.#deps = deps;
    this.#meta = meta;
    this.#plan = this.#makePlan(meta);
  }

  static progressKey(logId: number): string {
    return `firehose/progress/${logId}`;
  }

  get meta(): DeliveryStreamMeta {
    return this.#meta;
  }

  /** Loads the write cursor and the delivered watermark; reading resumes at the watermark. */
  async start(): Promise<void> {
    const last = await this.#deps.log.lastPosition(this.ref);
    const p = await this.#deps.meta.get<Progress>(Pipeline.progressKey(this.#meta.logId));
    const delivered = p ? BigInt(p.value.delivered) : 1n;
    // The log may be trimmed empty: positions continue from the watermark, never below it.
    const next = (last ?? 0n) + 1n;
    this.#next = next > delivered ? next : delivered;
    this.#persisted = delivered;
    this.#readPos = delivered;
    this.#watchFreshness();
    this.wake();
  }

  /** Stops reading and delivering. What is buffered stays in the log and is delivered after a restart. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort(new Error('the server is shutting down'));
    await this.#running;
  }

  /** Takes effect once what is buffered under the current version is sealed. */
  reconfigure(meta: DeliveryStreamMeta): void {
    this.#pendingMeta = meta;
    this.wake();
  }

  /** Seals every open buffer now (tests and shutdown paths; AWS has no such call). */
  flush(): void {
    this.#forceFlush = true;
    this.wake();
  }

  /** Positions below this are durable in the log. */
  #durable(): bigint {
    return this.#inflight.length > 0 ? this.#inflight[0]!.start : this.#next;
  }

  /** Records accepted but not yet delivered (a bound for sources that read ahead). */
  backlog(): number {
    return Number(this.#next - this.#persisted);
  }

  /**
   * Appends records to the log; resolves once they are durable, with their positions. Positions
   * are handed out before the first await, so concurrent appends stay in position order.
   */
  async append(records: readonly IngestRecord[], arrivalMs: number): Promise<bigint[]> {
    if (this.#closed) throw new Error('delivery stream pipeline is closed');
    const start = this.#next;
    const end = start + BigInt(records.length);
    this.#next = end;
    const span = { start, end };
    this.#inflight.push(span);
    const positions: bigint[] = [];
    try {
      await this.#deps.log.append(
        records.map((r, i) => {
          const position = start + BigInt(i);
          positions.push(position);
          return {
            shard: this.ref,
            record: {
              position,
              arrivalMs,
              // Where a Kinesis-sourced record came from rides in the partition key field.
              partitionKey: r.kinesis ? JSON.stringify(r.kinesis) : '',
              data: r.data,
              keyId: 0,
            },
          };
        }),
      );
    } finally {
      this.#inflight.splice(this.#inflight.indexOf(span), 1);
      this.wake();
    }
    return positions;
  }

  /** Calls f with the Kinesis metadata of every record not yet delivered (source checkpoint recovery). */
  async scanUndelivered(f: (k: KinesisRecordMetadata) => void): Promise<void> {
    let from = this.#persisted;
    for (;;) {
      const recs = await this.#deps.log.read(this.ref, from, { maxRecords: 5000, maxBytes: 16 * MiB });
      if (recs.length === 0) return;
      for (const r of recs) {
        const k = kinesisOf(r);
        if (k !== undefined) f(k);
      }
      from = recs[recs.length - 1]!.position + 1n;
    }
  }

  wake(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#pump()
      .catch((e: unknown) => this.#deps.report(`firehose ${this.#meta.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`))
      .finally(() => {
        this.#running = undefined;
        if (this.#again && !this.#closed) this.wake();
      });
  }

  async #pump(): Promise<void> {
    do {
      this.#again = false;
      if (this.#pendingMeta !== undefined) this.#switchPlan();
      for (;;) {
        const progressed = await this.#ingestChunk();
        this.#sealDue();
        await this.#deliverDue();
        await this.#advance();
        if (!progressed || this.#closed) break;
      }
    } while (this.#again && !this.#closed);
  }

  // ---------------------------------------------------------------------------------- configuration

  #makePlan(meta: DeliveryStreamMeta): Plan {
    const metrics = this.#deps.metrics;
    return buildPlan(meta, this.#deps.components, {
      deliveryStreamArn: meta.arn,
      region: meta.region,
      sourceKinesisStreamArn: meta.kinesisSource?.KinesisStreamARN,
      now: () => this.#deps.clock.now(),
      observe: (what, seconds, ok) => metrics.processing(meta.name, what, seconds, ok),
    });
  }

  #switchPlan(): void {
    const meta = this.#pendingMeta!;
    this.#pendingMeta = undefined;
    // What was buffered under the old version is delivered as that version named it.
    for (const b of this.#open.values()) this.#sealed.push(b);
    this.#open.clear();
    this.#meta = meta;
    this.#plan = this.#makePlan(meta);
    this.#watchFreshness();
  }

  #watchFreshness(): void {
    const p = this.#plan;
    this.#deps.metrics.watchFreshness(p.meta.name, p.backup ? [p.family, 'BackupToS3'] : [p.family], () => this.#freshness());
  }

  // ---------------------------------------------------------------------------------- ingest

  #cap(): number {
    const p = this.#plan;
    return Math.min(512 * MiB, Math.max(16 * MiB, 2 * p.sizeBytes + 2 * (p.backup?.sizeBytes ?? 0)));
  }

  /** Reads one chunk from the log into buffers. False when there was nothing to read or no room. */
  async #ingestChunk(): Promise<boolean> {
    if (this.#closed || this.#bufferedBytes >= this.#cap()) return false;
    const durable = this.#durable();
    if (this.#readPos >= durable) return false;
    const records = (await this.#deps.log.read(this.ref, this.#readPos, { maxRecords: READ_RECORDS, maxBytes: READ_BYTES })).filter(
      (r) => r.position < durable,
    );
    if (records.length === 0) {
      // Positions of appends that failed are never written: skip the gap.
      this.#readPos = durable;
      return true;
    }
    const end = records[records.length - 1]!.position + 1n;
    // Held while the records are processed, so the watermark cannot pass them meanwhile. If
    // processing throws, the hold stays: they remain in the log and are read again after a restart.
    const from = this.#readPos;
    this.#holds.add(from);
    this.#readPos = end;
    await this.#process(records);
    this.#holds.delete(from);
    return true;
  }

  async #process(stored: readonly StoredRecord[]): Promise<void> {
    const plan = this.#plan;
    const now = this.#deps.clock.now();
    const sources: SourceRecord[] = [];
    for (const r of stored) {
      // Undelivered DirectPut data is kept 24 hours (checklist 4.3); Kinesis sources keep theirs in the stream.
      if (plan.meta.type === DeliveryStreamType.DirectPut && r.arrivalMs < now - RETENTION_MS) continue;
      sources.push({ position: r.position, arrivalMs: r.arrivalMs, data: asBuffer(r.data), kinesis: kinesisOf(r) });
    }
    if (sources.length === 0) return;
    if (plan.backup !== undefined) {
      for (const s of sources) this.#add(this.#buffer('backup', plan, 'backup', undefined, undefined), s.data, s.arrivalMs, s.position);
    }
    const outputs: Output[] = plan.processors.empty
      ? sources.map((s) => ({ kind: 'ok', source: s, data: s.data }))
      : await plan.processors.run(sources);
    const name = plan.meta.name;
    if (plan.processors.hasLambda) {
      let n = 0;
      let bytes = 0;
      for (const o of outputs) {
        if (o.kind !== 'ok') continue;
        n++;
        bytes += o.data.length;
      }
      this.#deps.metrics.succeedProcessing(name, n, bytes);
    }
    for (const o of outputs) {
      if (o.kind === 'failed') {
        this.#add(this.#errorBuffer(plan, o.errorType), jsonLine(o.doc), o.source.arrivalMs, o.source.position);
        continue;
      }
      let partition: OutBuffer['partition'];
      let key = 'main';
      if (plan.dynamicPartitioning) {
        const query: Record<string, string> = {};
        const lambda: Record<string, string> = {};
        const missing: string[] = [];
        for (const k of plan.queryKeys) {
          const v = o.queryKeys?.[k];
          if (v === undefined) missing.push(`partitionKeyFromQuery:${k}`);
          else query[k] = v;
        }
        for (const k of plan.lambdaKeys) {
          const v = o.lambdaKeys?.[k];
          if (v === undefined) missing.push(`partitionKeyFromLambda:${k}`);
          else lambda[k] = v;
        }
        if (missing.length > 0) {
          const doc = failureDoc(o.source.arrivalMs, o.data, 'DynamicPartitioning.MetadataExtractionFailed', `Partition keys missing: ${missing.join(', ')}`, 1, now);
          this.#add(this.#errorBuffer(plan, 'processing-failed'), jsonLine(doc), o.source.arrivalMs, o.source.position);
          continue;
        }
        partition = { query, lambda };
        key = `main\u0000${JSON.stringify([query, lambda])}`;
        if (!this.#open.has(key) && this.#partitionCount() >= PARTITION_LIMIT) {
          this.#deps.metrics.partitions(name, this.#partitionCount(), true);
          const doc = failureDoc(o.source.arrivalMs, o.data, 'DynamicPartitioning.PartitionCountExceeded', `More than ${PARTITION_LIMIT} active partitions.`, 1, now);
          this.#add(this.#errorBuffer(plan, 'processing-failed'), jsonLine(doc), o.source.arrivalMs, o.source.position);
          continue;
        }
      }
      this.#add(this.#buffer(key, plan, 'main', partition, undefined), o.data, o.source.arrivalMs, o.source.position);
    }
    if (plan.dynamicPartitioning) this.#deps.metrics.partitions(name, this.#partitionCount(), false);
    this.#recount();
  }

  #partitionCount(): number {
    let n = 0;
    for (const b of this.#open.values()) if (b.role === 'main') n++;
    return n;
  }

  #buffer(key: string, plan: Plan, role: Role, partition: OutBuffer['partition'], errorType: ErrorOutputType | undefined): OutBuffer {
    let b = this.#open.get(key);
    if (b === undefined) {
      b = new OutBuffer(role, plan, key, partition, errorType);
      this.#open.set(key, b);
    }
    return b;
  }

  /** Adds an output; a buffer that reaches its size is sealed at once, so objects stay close to SizeInMBs. */
  #add(b: OutBuffer, data: Buffer, arrivalMs: number, position: bigint): void {
    b.add(data, arrivalMs, position);
    if (b.bytes >= this.#limits(b).sizeBytes && this.#open.get(b.key) === b) {
      this.#open.delete(b.key);
      this.#sealed.push(b);
    }
  }

  #limits(b: OutBuffer): { sizeBytes: number; intervalMs: number } {
    const p = b.plan;
    return b.role === 'backup' && p.backup !== undefined ? p.backup : p;
  }

  #errorBuffer(plan: Plan, type: ErrorOutputType): OutBuffer {
    return this.#buffer(`error\u0000${type}`, plan, 'error', undefined, type);
  }

  #recount(): void {
    let n = 0;
    for (const b of this.#open.values()) n += b.bytes;
    for (const b of this.#sealed) n += b.bytes;
    this.#bufferedBytes = n;
  }

  // ---------------------------------------------------------------------------------- sealing

  /** Moves buffers whose size or interval is reached (BufferingHints: whichever comes first) to delivery. */
  #sealDue(): void {
    const now = this.#deps.clock.now();
    const force = this.#forceFlush;
    this.#forceFlush = false;
    for (const [key, b] of this.#open) {
      if (b.items.length === 0) {
        this.#open.delete(key);
        continue;
      }
      const { sizeBytes, intervalMs } = this.#limits(b);
      if (force || b.bytes >= sizeBytes || now - b.oldestMs >= intervalMs) {
        this.#open.delete(key);
        this.#sealed.push(b);
      }
    }
  }

  // ---------------------------------------------------------------------------------- delivery

  async #deliverDue(): Promise<void> {
    for (const b of [...this.#sealed]) {
      if (this.#closed) return;
      const now = this.#deps.clock.now();
      if (b.nextAttemptMs > now) continue;
      b.attempts++;
      b.firstAttemptMs ??= now;
      try {
        await this.#deliver(b);
        this.#sealed.splice(this.#sealed.indexOf(b), 1);
      } catch (e) {
        b.lastError = errorMessage(e);
        b.lastErrorCode = errorCode(e) ?? (b.role === 'main' && b.plan.kind !== DestinationKind.ExtendedS3 ? defaultErrorCode(b.plan) : 'S3.PutObjectFailed');
        this.#failed(b, e);
      }
    }
    this.#recount();
  }

  #failed(b: OutBuffer, e: unknown): void {
    const now = this.#deps.clock.now();
    const plan = b.plan;
    const name = plan.meta.name;
    if (b.role === 'main' && plan.kind !== DestinationKind.ExtendedS3) {
      const retryable = !(typeof e === 'object' && e !== null && 'retryable' in e && e.retryable === false);
      if (retryable && now - b.firstAttemptMs! < plan.retryMs) {
        const base = Math.min(HTTP_RETRY_MAX_MS, 1000 * 2 ** (b.attempts - 1));
        b.nextAttemptMs = now + Math.round(base * (0.85 + Math.random() * 0.3));
        if (b.attempts === 1 || b.attempts % 20 === 0) {
          this.#deps.report(`firehose ${name}: delivery attempt ${b.attempts} to ${plan.kind} failed, will retry: ${b.lastErrorCode}: ${b.lastError}`);
        }
        return;
      }
      // RetryOptions exhausted (or a permanent refusal): the records go to the error output.
      this.#sealed.splice(this.#sealed.indexOf(b), 1);
      if (typeof e === 'object' && e !== null && 'routeToErrorOutput' in e && e.routeToErrorOutput === false) {
        // An HTTP endpoint's 413 is final and not backed up (checklist 4.8).
        this.#deps.report(`firehose ${name}: ${plan.kind} refused ${b.items.length} record(s) for good (${b.lastError}); they are not written to the error output`);
        return;
      }
      // A bulk request may have indexed some documents: only the others are failures.
      const failures = bulkFailures(e) ?? b.items.map((_, index) => ({ index, errorCode: b.lastErrorCode, errorMessage: b.lastError }));
      this.#toErrorOutput(
        b,
        plan.failureType,
        failures.map((f) => ({
          arrivalMs: b.arrivals[f.index]!,
          doc: destinationFailedDoc(plan, b.items[f.index]!, b.arrivals[f.index]!, f.errorCode, f.errorMessage, b.attempts, now, f.index, b.requestId, f),
        })),
      );
      this.#deps.report(`firehose ${name}: delivery to ${plan.kind} failed after ${b.attempts} attempt(s) (${b.lastError}); ${failures.length} record(s) go to the error output`);
      return;
    }
    // S3 writes are retried until the data is 24 hours old, then dropped (checklist 4.5).
    if (now - b.oldestMs > RETENTION_MS) {
      this.#sealed.splice(this.#sealed.indexOf(b), 1);
      this.#deps.report(`firehose ${name}: dropping ${b.items.length} record(s) older than 24 hours after ${b.attempts} failed attempt(s): ${b.lastError}`);
      return;
    }
    b.nextAttemptMs = now + Math.min(S3_RETRY_MAX_MS, 1000 * 2 ** (b.attempts - 1));
    if (b.attempts === 1 || b.attempts % 20 === 0) {
      this.#deps.report(`firehose ${name}: S3 delivery attempt ${b.attempts} failed, will retry: ${b.lastError}`);
    }
  }

  /**
   * Queues error documents for records of `from`, which hands its hold on the log over to them:
   * the records count as delivered once their error documents are written.
   */
  #toErrorOutput(from: OutBuffer, type: ErrorOutputType, docs: readonly { arrivalMs: number; doc: Record<string, unknown> }[]): void {
    const err = new OutBuffer('error', from.plan, `${type}\u0000${from.requestId}`, undefined, type);
    for (const d of docs) {
      const line = jsonLine(d.doc);
      err.items.push(line);
      err.arrivals.push(d.arrivalMs);
      err.bytes += line.length;
      if (d.arrivalMs < err.oldestMs) err.oldestMs = d.arrivalMs;
    }
    err.minPos = from.minPos;
    from.minPos = undefined;
    this.#sealed.push(err);
    this.#again = true;
  }

  async #deliver(b: OutBuffer): Promise<void> {
    const plan = b.plan;
    const m = plan.meta;
    const metrics = this.#deps.metrics;
    switch (b.role) {
      case 'backup': {
        const t = plan.backup!.target;
        await this.#putObject(b, t, evaluatePrefix(t.prefix, { atMs: b.oldestMs, timeZone: plan.timeZone }), t.compression, t.extension, 'BackupToS3');
        return;
      }
      case 'error': {
        const t = plan.target;
        const prefix = evaluatePrefix(t.errorPrefix, { atMs: b.oldestMs, timeZone: plan.timeZone, ...(b.errorType ? { errorType: b.errorType } : {}) });
        await this.#putObject(b, t, prefix, t.compression, t.errorExtension, undefined);
        return;
      }
      case 'main': {
        if (plan.kind === DestinationKind.ExtendedS3) {
          const t = plan.target;
          const prefix = evaluatePrefix(t.prefix, {
            atMs: b.oldestMs,
            timeZone: plan.timeZone,
            ...(b.partition?.query ? { queryKeys: b.partition.query } : {}),
            ...(b.partition?.lambda ? { lambdaKeys: b.partition.lambda } : {}),
          });
          if (plan.conversion !== undefined) await this.#deliverConverted(b, t, prefix, plan.conversion);
          else await this.#putObject(b, t, prefix, t.compression, t.extension, plan.family);
          return;
        }
        const deliver = plan.deliver;
        try {
          if (deliver === undefined) {
            throw Object.assign(new Error(`Delivery to ${plan.kind} destinations is not available on this server.`), { retryable: false, errorCode: `${plan.kind}.NotAvailable` });
          }
          const config = plan.meta.destination.config;
          if (plan.kind === DestinationKind.Redshift) {
            // Firehose writes the batch to the intermediate bucket, then COPYs that object (checklist 4.4).
            const t = plan.target;
            b.intermediate ??= await this.#writeIntermediate(b, t);
            await deliver(config, b.intermediate, this.#deliveryMeta(b));
          } else {
            await deliver(config, b.items, this.#deliveryMeta(b));
          }
        } catch (e) {
          metrics.delivery(m.name, plan.family, false);
          throw e;
        }
        metrics.delivery(m.name, plan.family, true, b.items.length, b.bytes);
        return;
      }
    }
  }

  /**
   * Record format conversion (checklist 4.7): the records that fit the table go into one Parquet
   * object, the others to `format-conversion-failed`. Counted once the object is written, so a
   * retried write is not counted twice.
   */
  async #deliverConverted(b: OutBuffer, t: S3Target, prefix: string, c: NonNullable<Plan['conversion']>): Promise<void> {
    const plan = b.plan;
    const m = plan.meta;
    const metrics = this.#deps.metrics;
    let parquet: Buffer | undefined;
    let failures: { index: number; code: string; message: string }[];
    if (!Array.isArray(c.columns)) {
      const why = c.columns as { code: string; error: string };
      failures = b.items.map((_, index) => ({ index, code: why.code, message: why.error }));
    } else {
      const converter = await this.#deps.components.parquet!();
      const r = converter.convertToParquet(b.items, c.columns, c.options);
      parquet = r.parquet;
      failures = r.failures.map((f) => ({ index: f.index, code: f.error.errorCode, message: f.error.message }));
    }
    let goodBytes = b.bytes;
    for (const f of failures) goodBytes -= b.items[f.index]!.length;
    const converted = b.items.length - failures.length;
    if (parquet !== undefined) {
      const suffix = objectSuffix(m.name, m.versionId, b.oldestMs, plan.timeZone);
      try {
        await this.#deps.objects.put(t.bucket, `${prefix}${suffix}${t.extension}`, parquet);
      } catch (e) {
        metrics.delivery(m.name, plan.family, false);
        throw e;
      }
      metrics.delivery(m.name, plan.family, true, converted, goodBytes, 1);
    }
    if (converted > 0) metrics.conversion(m.name, true, converted, goodBytes);
    if (failures.length === 0) return;
    metrics.conversion(m.name, false, failures.length, b.bytes - goodBytes);
    const now = this.#deps.clock.now();
    this.#toErrorOutput(
      b,
      'format-conversion-failed',
      failures.map((f) => ({ arrivalMs: b.arrivals[f.index]!, doc: conversionFailedDoc(plan, b.items[f.index]!, b.arrivals[f.index]!, f.code, f.message, now) })),
    );
  }

  /** What a destination's deliver function gets: one attempt per call (retries are scheduled here, on the clock). */
  #deliveryMeta(b: OutBuffer): DeliveryMeta {
    const m = b.plan.meta;
    return {
      deliveryStreamArn: m.arn,
      deliveryStreamName: m.name,
      requestId: b.requestId,
      timestampMs: b.oldestMs,
      region: m.region,
      retryDurationMs: 0,
      arrivalTimestamps: b.arrivals,
      signal: this.#abort.signal,
    };
  }

  /** Redshift's intermediate object, written once per batch (a retried COPY reads the same object). */
  async #writeIntermediate(b: OutBuffer, t: S3Target): Promise<Buffer> {
    const m = b.plan.meta;
    const suffix = objectSuffix(m.name, m.versionId, b.oldestMs, b.plan.timeZone);
    const body = this.#body(b.items, b.bytes, t.compression, suffix);
    await this.#deps.objects.put(t.bucket, `${evaluatePrefix(t.prefix, { atMs: b.oldestMs, timeZone: b.plan.timeZone })}${suffix}${t.extension}`, body);
    return body;
  }

  /** An object's bytes: the items concatenated, compressed. */
  #body(items: readonly Buffer[], bytes: number, compression: S3Target['compression'], entryName: string): Buffer {
    return this.#deps.components.compress(compression, items.length === 1 ? items[0]! : Buffer.concat(items, bytes), entryName);
  }

  /** Writes the buffer as one object `<prefix><suffix><extension>`; records the family's metrics. */
  async #putObject(b: OutBuffer, t: S3Target, prefix: string, compression: S3Target['compression'], extension: string, family: DeliveryMetric | undefined): Promise<void> {
    const m = b.plan.meta;
    const suffix = objectSuffix(m.name, m.versionId, b.oldestMs, b.plan.timeZone);
    try {
      await this.#deps.objects.put(t.bucket, `${prefix}${suffix}${extension}`, this.#body(b.items, b.bytes, compression, suffix));
    } catch (e) {
      if (family !== undefined) this.#deps.metrics.delivery(m.name, family, false);
      throw e;
    }
    if (family !== undefined) this.#deps.metrics.delivery(m.name, family, true, b.items.length, b.bytes, 1);
  }

  // ---------------------------------------------------------------------------------- watermark

  /** The lowest position some output still depends on. */
  #watermark(): bigint {
    let wm = this.#readPos;
    for (const h of this.#holds) if (h < wm) wm = h;
    for (const b of this.#open.values()) if (b.minPos !== undefined && b.minPos < wm) wm = b.minPos;
    for (const b of this.#sealed) if (b.minPos !== undefined && b.minPos < wm) wm = b.minPos;
    return wm;
  }

  /** Persists the watermark when it moved, and trims the log below it. */
  async #advance(): Promise<void> {
    const wm = this.#watermark();
    if (wm <= this.#persisted) return;
    const progress: Progress = { delivered: wm.toString() };
    await this.#deps.meta.put(Pipeline.progressKey(this.#meta.logId), progress);
    this.#persisted = wm;
    await this.#deps.log.trim(this.ref, wm);
  }

  /** Age of the oldest record not yet delivered, per metric family (DataFreshness). */
  #freshness(): { metric: Plan['family'] | 'BackupToS3'; seconds: number }[] {
    const now = this.#deps.clock.now();
    let oldest = Infinity;
    for (const b of this.#open.values()) oldest = Math.min(oldest, b.oldestMs);
    for (const b of this.#sealed) oldest = Math.min(oldest, b.oldestMs);
    const seconds = oldest === Infinity ? 0 : Math.max(0, Math.floor((now - oldest) / 1000));
    const out: { metric: Plan['family'] | 'BackupToS3'; seconds: number }[] = [{ metric: this.#plan.family, seconds }];
    if (this.#plan.backup) out.push({ metric: 'BackupToS3', seconds });
    return out;
  }

  /** For tests and diagnostics. */
  state(): { next: bigint; readPos: bigint; delivered: bigint; open: number; sealed: number; bufferedBytes: number } {
    return { next: this.#next, readPos: this.#readPos, delivered: this.#persisted, open: this.#open.size, sealed: this.#sealed.length, bufferedBytes: this.#bufferedBytes };
  }
}

function kinesisOf(r: StoredRecord): KinesisRecordMetadata | undefined {
  if (r.partitionKey === '') return undefined;
  try {
    return JSON.parse(r.partitionKey) as KinesisRecordMetadata;
  } catch {
    return undefined;
  }
}

/** The log hands out fresh Buffers already (local/ and memory/ copy on read): no second copy. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function jsonLine(doc: Readonly<Record<string, unknown>>): Buffer {
  return Buffer.from(`${JSON.stringify(doc)}\n`);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'errorCode' in e && typeof e.errorCode === 'string') return e.errorCode;
  return undefined;
}

function defaultErrorCode(plan: Plan): string {
  switch (plan.kind) {
    case DestinationKind.HttpEndpoint:
      return 'HttpEndpoint.DestinationException';
    case DestinationKind.Splunk:
      return 'Splunk.ConnectionFailed';
    case DestinationKind.Redshift:
      return 'Redshift.ConnectionFailed';
    default:
      return 'OS.ConnectionFailed';
  }
}

function failureDoc(arrivalMs: number, data: Buffer, errorCode: string, errorMessage: string, attemptsMade: number, now: number): Record<string, unknown> {
  return {
    attemptsMade,
    arrivalTimestamp: arrivalMs,
    errorCode,
    errorMessage,
    attemptEndingTimestamp: now,
    rawData: data.toString('base64'),
  };
}

/** format-conversion-failed documents (checklist 4.5). */
function conversionFailedDoc(plan: Plan, data: Buffer, arrivalMs: number, code: string, message: string, now: number): Record<string, unknown> {
  const s = plan.conversion?.config.SchemaConfiguration ?? {};
  return {
    attemptsMade: 1,
    arrivalTimestamp: arrivalMs,
    lastErrorCode: code,
    lastErrorMessage: message,
    attemptEndingTimestamp: now,
    rawData: data.toString('base64'),
    sequenceNumber: null,
    subSequenceNumber: null,
    dataCatalogTable: {
      catalogId: s.CatalogId ?? null,
      databaseName: s.DatabaseName ?? null,
      tableName: s.TableName ?? null,
      region: s.Region ?? plan.meta.region,
      versionId: s.VersionId ?? 'LATEST',
      roleArn: s.RoleARN ?? null,
    },
  };
}

interface BulkFailure {
  readonly index: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly indexName?: string;
  readonly typeName?: string | undefined;
  readonly documentId?: string | undefined;
}

/** The per-document failures of an OpenSearch bulk request (BulkDeliveryError.failures), if that is what failed. */
function bulkFailures(e: unknown): BulkFailure[] | undefined {
  if (typeof e !== 'object' || e === null || !('failures' in e) || !Array.isArray(e.failures)) return undefined;
  return e.failures as BulkFailure[];
}

/** Error documents of records a non-S3 destination did not take (checklist 4.5). */
function destinationFailedDoc(
  plan: Plan,
  data: Buffer,
  arrivalMs: number,
  code: string,
  message: string,
  attempts: number,
  now: number,
  index: number,
  requestId: string,
  bulk?: BulkFailure,
): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    attemptsMade: attempts,
    arrivalTimestamp: arrivalMs,
    errorCode: code,
    errorMessage: message,
    attemptEndingTimestamp: now,
    rawData: data.toString('base64'),
  };
  const c = plan.meta.destination.config as { IndexName?: string; TypeName?: string };
  switch (plan.kind) {
    case DestinationKind.Splunk:
      doc.EventId = `${requestId}.${index}`;
      break;
    case DestinationKind.HttpEndpoint:
      doc.subsequenceNumber = 0;
      doc.dataId = `${requestId}.${index}`;
      break;
    case DestinationKind.AmazonOpenSearchServerless:
      doc.osDocumentId = bulk?.documentId ?? null;
      doc.osIndexName = bulk?.indexName ?? c.IndexName ?? null;
      break;
    case DestinationKind.Elasticsearch:
    case DestinationKind.Amazonopensearchservice:
      doc.esDocumentId = bulk?.documentId ?? null;
      doc.esIndexName = bulk?.indexName ?? c.IndexName ?? null;
      doc.esTypeName = bulk?.typeName ?? c.TypeName ?? null;
      break;
    default:
      break;
  }
  return doc;
}
