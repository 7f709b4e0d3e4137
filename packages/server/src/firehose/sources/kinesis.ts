/**
 * KinesisStreamAsSource (checklist 4.3): reads an Eddy stream through the Data Streams operations
 * (ListShards, GetShardIterator, GetRecords, as any consumer would: never storage internals), about
 * once per second per shard, parents before children, starting at the delivery stream's start
 * time. Records go into the delivery stream's buffer log with their origin (shard, sequence
 * number, partition key); the last sequence number appended per shard is checkpointed in the
 * MetaStore under `firehose/checkpoint/<logId>/<shardId>`.
 *
 * A checkpoint is written after the records it covers are durable in the buffer log, so a crash
 * between the two would read some records twice; to avoid that, start-up also scans the log's
 * undelivered records for the highest sequence number of each shard.
 */
import type { Clock } from '../../core/clock.js';
import { parseStreamArn } from '../../core/ids.js';
import type { MetaStore } from '../../storage/types.js';
import type { FirehoseMetrics } from '../metrics.js';
import type { IngestRecord, Pipeline } from '../pipeline.js';
import type { KinesisRecordMetadata } from '../types.js';

export interface Caller {
  readonly accountId: string;
  readonly region: string;
}

/** Invokes a Data Streams operation as the wire would (a decoded, valid input; the operation's output). */
export interface KinesisAccess {
  call(operation: string, input: Record<string, unknown>, caller: Caller): Promise<Record<string, unknown>>;
}

interface Checkpoint {
  readonly sequenceNumber?: string;
  readonly ended?: boolean;
}

interface Shard {
  readonly ShardId: string;
  readonly ParentShardId?: string;
  readonly AdjacentParentShardId?: string;
}

interface KinesisRecord {
  readonly SequenceNumber: string;
  readonly ApproximateArrivalTimestamp: number;
  readonly Data: Uint8Array;
  readonly PartitionKey: string;
}

export interface KinesisSourceOptions {
  readonly logId: number;
  readonly deliveryStreamName: string;
  readonly streamArn: string;
  /** Shards without a checkpoint are read from this time (AT_TIMESTAMP). */
  readonly startMs: number;
  readonly kinesis: KinesisAccess;
  readonly meta: MetaStore;
  readonly clock: Clock;
  readonly pipeline: Pipeline;
  readonly metrics: FirehoseMetrics;
  readonly report: (line: string) => void;
  /** Real-time pause between polls of an idle stream. */
  readonly pollMs: number;
}

/** Stop reading ahead when this many records wait for delivery: the stream keeps them meanwhile. */
const MAX_BACKLOG = 200_000;
/** GetRecords calls per shard per poll while it keeps returning full pages. */
const MAX_READS_PER_POLL = 5;
const GET_RECORDS_LIMIT = 10_000;

export class KinesisSource {
  readonly #o: KinesisSourceOptions;
  readonly #caller: Caller;
  readonly #checkpoints = new Map<string, Checkpoint>();
  readonly #iterators = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #lastProblem = '';

  constructor(o: KinesisSourceOptions) {
    this.#o = o;
    const arn = parseStreamArn(o.streamArn);
    this.#caller = { accountId: arn?.accountId ?? '', region: arn?.region ?? '' };
  }

  static checkpointPrefix(logId: number): string {
    return `firehose/checkpoint/${logId}/`;
  }

  async start(): Promise<void> {
    const prefix = KinesisSource.checkpointPrefix(this.#o.logId);
    for (const { key, value } of await this.#o.meta.list<Checkpoint>(prefix)) this.#checkpoints.set(key.slice(prefix.length), value);
    await this.#o.pipeline.scanUndelivered((k) => {
      const cp = this.#checkpoints.get(k.shardId);
      if (cp?.sequenceNumber === undefined || BigInt(k.sequenceNumber) > BigInt(cp.sequenceNumber)) {
        this.#checkpoints.set(k.shardId, { ...cp, sequenceNumber: k.sequenceNumber });
      }
    });
    this.#schedule(0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#poll()
        .then(
          (busy) => this.#schedule(busy ? Math.min(200, this.#o.pollMs) : this.#o.pollMs),
          (e: unknown) => {
            this.#problem(e);
            this.#schedule(this.#o.pollMs);
          },
        )
        .finally(() => {
          this.#running = undefined;
        });
    }, ms);
    this.#timer.unref();
  }

  #problem(e: unknown): void {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    // Report a persisting problem once, not once a second.
    if (msg !== this.#lastProblem) this.#o.report(`firehose ${this.#o.deliveryStreamName}: reading ${this.#o.streamArn}: ${msg}`);
    this.#lastProblem = msg;
  }

  /** One pass over the shards; true when some shard had more to read. */
  async #poll(): Promise<boolean> {
    if (this.#o.pipeline.backlog() > MAX_BACKLOG) return false;
    const shards = await this.#listShards();
    const byId = new Map(shards.map((s) => [s.ShardId, s]));
    let busy = false;
    for (const s of shards) {
      if (this.#closed) return false;
      if (this.#checkpoints.get(s.ShardId)?.ended) continue;
      // Children wait until every parent still listed has been read to its end (checklist 1.7).
      const parents = [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => p !== undefined && byId.has(p));
      if (parents.some((p) => !this.#checkpoints.get(p)?.ended)) continue;
      if (await this.#readShard(s.ShardId)) busy = true;
    }
    this.#lastProblem = '';
    return busy;
  }

  async #listShards(): Promise<Shard[]> {
    const out: Shard[] = [];
    let token: string | undefined;
    do {
      const res = await this.#call('ListShards', token === undefined ? { StreamARN: this.#o.streamArn } : { NextToken: token });
      out.push(...((res.Shards as Shard[] | undefined) ?? []));
      token = res.NextToken as string | undefined;
    } while (token !== undefined && !this.#closed);
    return out.sort((a, b) => (a.ShardId < b.ShardId ? -1 : a.ShardId > b.ShardId ? 1 : 0));
  }

  #call(op: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.#o.kinesis.call(op, input, this.#caller);
  }

  async #iterator(shardId: string): Promise<string> {
    const it = this.#iterators.get(shardId);
    if (it !== undefined) return it;
    const cp = this.#checkpoints.get(shardId);
    const input: Record<string, unknown> = { StreamARN: this.#o.streamArn, ShardId: shardId };
    if (cp?.sequenceNumber !== undefined) {
      input.ShardIteratorType = 'AFTER_SEQUENCE_NUMBER';
      input.StartingSequenceNumber = cp.sequenceNumber;
    } else {
      input.ShardIteratorType = 'AT_TIMESTAMP';
      input.Timestamp = Math.min(this.#o.startMs, this.#o.clock.now());
    }
    const res = await this.#call('GetShardIterator', input);
    return res.ShardIterator as string;
  }

  /** Reads a shard while it returns full pages (bounded); true when it may have more. */
  async #readShard(shardId: string): Promise<boolean> {
    for (let i = 0; i < MAX_READS_PER_POLL; i++) {
      if (this.#closed || this.#o.pipeline.backlog() > MAX_BACKLOG) return false;
      let res: Record<string, unknown>;
      try {
        res = await this.#call('GetRecords', { ShardIterator: await this.#iterator(shardId), Limit: GET_RECORDS_LIMIT, StreamARN: this.#o.streamArn });
      } catch (e) {
        // Iterators expire after 5 minutes; the next poll starts again from the checkpoint.
        this.#iterators.delete(shardId);
        if (e instanceof Error && (e.name === 'ExpiredIteratorException' || e.name === 'ProvisionedThroughputExceededException')) return false;
        throw e;
      }
      const records = (res.Records as KinesisRecord[] | undefined) ?? [];
      if (records.length > 0) {
        const ingest: IngestRecord[] = records.map((r) => ({
          data: r.Data,
          kinesis: {
            shardId,
            partitionKey: r.PartitionKey,
            approximateArrivalTimestamp: r.ApproximateArrivalTimestamp,
            sequenceNumber: r.SequenceNumber,
            subsequenceNumber: '0',
          } satisfies KinesisRecordMetadata,
        }));
        await this.#o.pipeline.append(ingest, this.#o.clock.now());
        let bytes = 0;
        for (const r of records) bytes += r.Data.byteLength;
        this.#o.metrics.kinesisRead(this.#o.deliveryStreamName, records.length, bytes, Number(res.MillisBehindLatest ?? 0));
        this.#o.metrics.incoming(this.#o.deliveryStreamName, records.length, bytes);
      }
      const next = res.NextShardIterator as string | null | undefined;
      const last = records[records.length - 1];
      const prev = this.#checkpoints.get(shardId);
      const cp: Checkpoint = {
        ...(last !== undefined ? { sequenceNumber: last.SequenceNumber } : prev?.sequenceNumber !== undefined ? { sequenceNumber: prev.sequenceNumber } : {}),
        ...(next === null || next === undefined ? { ended: true } : {}),
      };
      if (last !== undefined || cp.ended) {
        await this.#o.meta.put(`${KinesisSource.checkpointPrefix(this.#o.logId)}${shardId}`, cp);
        this.#checkpoints.set(shardId, cp);
      }
      if (next === null || next === undefined) {
        this.#iterators.delete(shardId);
        return true;
      }
      this.#iterators.set(shardId, next);
      if (records.length < GET_RECORDS_LIMIT) return false;
    }
    return true;
  }
}
