/**
 * Firehose state: the delivery streams of every account and region, their lifecycle (CREATING →
 * ACTIVE, DELETING, encryption ENABLING/DISABLING, each lasting the server's state delay), and one
 * delivery pipeline (plus a Kinesis reader for KinesisStreamAsSource) per ACTIVE stream.
 *
 * Storage goes only through the Storage seam: each delivery stream is a MetaStore record under
 * `firehose/stream/<account>/<region>/<name>`, and its buffered records are a LogStore "shard"
 * `{ streamId: logId, shardIndex: 0 }`. Log ids come from the MetaStore counter
 * `firehose/next-log-id` and start at 2^31: Kinesis streams take ids 1, 2, 3, ... from their own
 * counter (`server/next-stream-id`, StreamsService.createStream), so the two ranges cannot meet
 * (the log's streamId is a u32).
 */
import { randomBytes } from 'node:crypto';
import { type Clock } from '../core/clock.js';
import type { Registry } from '../metrics/index.js';
import type { MetaStore, Storage } from '../storage/types.js';
import { MiB as StreamsMiB, TokenBucket } from '../streams/throttle.js';
import type { Components } from './components.js';
import { destinationFromCreate, validateDestination } from './config.js';
import { openObjectStore, type ObjectStore, type S3Options } from './destinations/s3.js';
import { deliveryStreamNotFound, firehoseErrors } from './errors.js';
import { FirehoseMetrics } from './metrics.js';
import { Pipeline } from './pipeline.js';
import { type KinesisAccess, KinesisSource } from './sources/kinesis.js';
import {
  type DeliveryStreamMeta,
  DeliveryStreamStatus,
  DeliveryStreamType,
  type DestinationConfig,
  type EncryptionState,
  type Tag,
} from './types.js';

export interface Caller {
  readonly accountId: string;
  readonly region: string;
}

export interface FirehoseOptions {
  readonly clock: Clock;
  /** How long CREATING, DELETING, ENABLING and DISABLING last. */
  readonly stateDelayMs: number;
  /** Enforce the DirectPut throughput quotas (ServiceUnavailableException "Slow down."). */
  readonly throttle: boolean;
  readonly s3: S3Options;
  readonly kinesis: KinesisAccess;
  readonly components: Components;
  readonly metrics: Registry;
  readonly log: (line: string) => void;
  /** Real-time period at which due buffers, retries and state changes are looked at. */
  readonly tickMs: number;
  /** Real-time pause between polls of an idle Kinesis source stream. */
  readonly kinesisPollMs: number;
  /** Delivery streams per account and region (2026 model: 5,000). */
  readonly streamLimit: number;
}

export const defaultFirehoseOptions = {
  tickMs: 100,
  kinesisPollMs: 1000,
  streamLimit: 5000,
} satisfies Partial<FirehoseOptions>;

/** The first log id (see the file comment). */
export const FIRST_LOG_ID = 2 ** 31;
const LOG_ID_KEY = 'firehose/next-log-id';
const DAY_MS = 86_400_000;

/** DirectPut quotas per stream (checklist 4.3): the three big regions, and the rest. */
function quotas(region: string): { records: number; requests: number; bytes: number } {
  return ['us-east-1', 'us-west-2', 'eu-west-1'].includes(region)
    ? { records: 500_000, requests: 2_000, bytes: 5 * StreamsMiB }
    : { records: 100_000, requests: 1_000, bytes: 1 * StreamsMiB };
}

export class DeliveryStreamState {
  meta: DeliveryStreamMeta;
  version: number;
  pipeline: Pipeline | undefined;
  source: KinesisSource | undefined;
  settling: Promise<void> | undefined;
  writeChain: Promise<unknown> = Promise.resolve();
  limits: { records: TokenBucket; requests: TokenBucket; bytes: TokenBucket } | undefined;

  constructor(meta: DeliveryStreamMeta, version: number) {
    this.meta = meta;
    this.version = version;
  }
}

export class FirehoseService {
  readonly options: FirehoseOptions;
  readonly clock: Clock;
  readonly metrics: FirehoseMetrics;
  readonly #storage: Storage;
  readonly #objects: ObjectStore;
  readonly #byName = new Map<string, DeliveryStreamState>();
  #nextLogId = FIRST_LOG_ID;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #closed = false;

  constructor(storage: Storage, options: FirehoseOptions) {
    this.#storage = storage;
    this.options = options;
    this.clock = options.clock;
    this.metrics = new FirehoseMetrics(options.metrics);
    this.#objects = openObjectStore(options.s3);
  }

  get meta(): MetaStore {
    return this.#storage.meta;
  }

  get objects(): ObjectStore {
    return this.#objects;
  }

  async start(): Promise<void> {
    const counter = await this.meta.get<number>(LOG_ID_KEY);
    this.#nextLogId = counter?.value ?? FIRST_LOG_ID;
    for (const { value, version } of await this.meta.list<DeliveryStreamMeta>('firehose/stream/')) {
      const st = new DeliveryStreamState(value, version);
      this.#byName.set(nameKey(value.accountId, value.region, value.name), st);
      this.#nextLogId = Math.max(this.#nextLogId, value.logId + 1);
    }
    for (const st of [...this.#byName.values()]) await this.settle(st);
    for (const st of this.#byName.values()) if (st.meta.status === DeliveryStreamStatus.ACTIVE) await this.#startDelivery(st);
    this.#timer = setInterval(() => void this.tick(), this.options.tickMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const st of this.#byName.values()) await this.#stopDelivery(st);
    for (const st of this.#byName.values()) await st.writeChain.catch(() => undefined);
    await this.#objects.close();
  }

  /** Settles due state changes and wakes every pipeline (due buffers, retries). */
  async tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      for (const st of [...this.#byName.values()]) {
        await this.settle(st);
        st.pipeline?.wake();
      }
    } catch (e) {
      this.options.log(`firehose: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      this.#ticking = false;
    }
  }

  /** Seals every buffer of every delivery stream now, whatever its hints say (tests, benchmarks). */
  flushAll(): void {
    for (const st of this.#byName.values()) st.pipeline?.flush();
  }

  // ------------------------------------------------------------------------------------ lookup

  async find(caller: Caller, name: string): Promise<DeliveryStreamState> {
    const st = this.#byName.get(nameKey(caller.accountId, caller.region, name));
    if (!st) throw deliveryStreamNotFound(name, caller.accountId);
    await this.settle(st);
    if (this.#byName.get(nameKey(caller.accountId, caller.region, name)) !== st) throw deliveryStreamNotFound(name, caller.accountId);
    return st;
  }

  /** Every delivery stream of the account and region, by name. */
  async list(caller: Caller): Promise<DeliveryStreamState[]> {
    const out: DeliveryStreamState[] = [];
    for (const st of [...this.#byName.values()]) {
      if (st.meta.accountId !== caller.accountId || st.meta.region !== caller.region) continue;
      await this.settle(st);
      if (this.#byName.get(nameKey(st.meta.accountId, st.meta.region, st.meta.name)) === st) out.push(st);
    }
    return out.sort((a, b) => (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0));
  }

  // ------------------------------------------------------------------------------------ create / delete

  async create(
    caller: Caller,
    args: {
      name: string;
      type: DeliveryStreamMeta['type'];
      destination: DestinationConfig;
      directPut?: DeliveryStreamMeta['directPut'];
      kinesisSource?: { KinesisStreamARN: string; RoleARN: string };
      encryption?: { KeyType: EncryptionState['KeyType']; KeyARN?: string };
      tags: readonly Tag[];
    },
  ): Promise<DeliveryStreamMeta> {
    const key = nameKey(caller.accountId, caller.region, args.name);
    const existing = this.#byName.get(key);
    if (existing) {
      await this.settle(existing);
      if (this.#byName.get(key)) {
        throw firehoseErrors.ResourceInUseException(`Firehose ${args.name} under accountId ${caller.accountId} already exists`);
      }
    }
    const count = [...this.#byName.values()].filter((s) => s.meta.accountId === caller.accountId && s.meta.region === caller.region).length;
    if (count >= this.options.streamLimit) {
      throw firehoseErrors.LimitExceededException(`You have already consumed your firehose quota of ${this.options.streamLimit} hoses.`);
    }
    validateDestination(args.destination, { deliveryStreamType: args.type });
    const now = this.clock.now();
    const logId = this.#nextLogId++;
    await this.meta.put(LOG_ID_KEY, this.#nextLogId);
    const meta: DeliveryStreamMeta = {
      logId,
      name: args.name,
      accountId: caller.accountId,
      region: caller.region,
      arn: `arn:aws:firehose:${caller.region}:${caller.accountId}:deliverystream/${args.name}`,
      type: args.type,
      status: DeliveryStreamStatus.CREATING,
      dueMs: now + this.options.stateDelayMs,
      createdMs: now,
      versionId: 1,
      ...(args.directPut ? { directPut: args.directPut } : {}),
      ...(args.kinesisSource ? { kinesisSource: { ...args.kinesisSource, deliveryStartMs: now } } : {}),
      destination: args.destination,
      ...(args.encryption ? { encryption: { ...args.encryption, Status: 'ENABLED' as const } } : {}),
      encryptionCalls: [],
      tags: args.tags,
    };
    // Registered before the await so a concurrent create of the same name sees it.
    const st = new DeliveryStreamState(meta, 0);
    this.#byName.set(key, st);
    // The first write heads the stream's write chain, so that a tick settling it meanwhile waits for it.
    const first = this.meta.put(metaKey(meta), meta, 0).then((v) => {
      st.version = v;
    });
    st.writeChain = first.catch(() => undefined);
    try {
      await first;
    } catch (e) {
      this.#byName.delete(key);
      throw e;
    }
    await this.settle(st);
    return st.meta;
  }

  /** Allowed in every state but CREATING (checklist 4.2); AllowForceDelete concerns KMS grants only. */
  async delete(st: DeliveryStreamState): Promise<void> {
    const m = st.meta;
    if (m.status === DeliveryStreamStatus.DELETING) return;
    if (m.status === DeliveryStreamStatus.CREATING) {
      throw firehoseErrors.ResourceInUseException(`Firehose ${m.name} under account ${m.accountId} is in CREATING state; it can be deleted once it is ACTIVE.`);
    }
    await this.update(st, (cur) => ({ ...cur, status: DeliveryStreamStatus.DELETING, dueMs: this.clock.now() + this.options.stateDelayMs }));
    // Records still buffered are not delivered (checklist 4.2: no delivery guarantee while DELETING).
    await this.#stopDelivery(st);
    await this.settle(st);
  }

  // ------------------------------------------------------------------------------------ persistence

  /** Applies a change to the stored meta (compare-and-set, serialised per stream) and makes it current. */
  async update(st: DeliveryStreamState, change: (m: DeliveryStreamMeta) => DeliveryStreamMeta): Promise<DeliveryStreamMeta> {
    let result: DeliveryStreamMeta | undefined;
    const run = st.writeChain.then(async () => {
      const next = change(st.meta);
      st.version = await this.meta.put(metaKey(next), next, st.version);
      st.meta = next;
      result = next;
    });
    st.writeChain = run.catch(() => undefined);
    await run;
    return result!;
  }

  /** A new destination configuration: VersionId + 1, and the pipeline switches once its buffers are sealed. */
  async updateDestination(st: DeliveryStreamState, destination: DestinationConfig): Promise<void> {
    validateDestination(destination, { deliveryStreamType: st.meta.type });
    const next = await this.update(st, (cur) => ({ ...cur, destination, versionId: cur.versionId + 1, updatedMs: this.clock.now() }));
    st.pipeline?.reconfigure(next);
  }

  // ------------------------------------------------------------------------------------ transitions

  async settle(st: DeliveryStreamState): Promise<void> {
    for (;;) {
      if (st.settling) {
        await st.settling;
        continue;
      }
      const m = st.meta;
      const now = this.clock.now();
      const due = (m.dueMs !== undefined && m.dueMs <= now) || (m.encryption?.dueMs !== undefined && m.encryption.dueMs <= now);
      if (!due || this.#byName.get(nameKey(m.accountId, m.region, m.name)) !== st) return;
      st.settling = this.#apply(st).finally(() => {
        st.settling = undefined;
      });
    }
  }

  async #apply(st: DeliveryStreamState): Promise<void> {
    const now = this.clock.now();
    const m = st.meta;
    if (m.status === DeliveryStreamStatus.DELETING && (m.dueMs ?? 0) <= now) {
      await this.#remove(st);
      return;
    }
    const becameActive = m.status === DeliveryStreamStatus.CREATING && (m.dueMs ?? 0) <= now;
    await this.update(st, (cur) => {
      let next: DeliveryStreamMeta = cur;
      if (cur.status === DeliveryStreamStatus.CREATING && (cur.dueMs ?? 0) <= now) {
        const { dueMs: _d, ...rest } = cur;
        next = { ...rest, status: DeliveryStreamStatus.ACTIVE };
      }
      const e = next.encryption;
      if (e?.dueMs !== undefined && e.dueMs <= now) {
        const { dueMs: _e, ...settled } = e;
        next = { ...next, encryption: { ...settled, Status: e.Status === 'ENABLING' ? 'ENABLED' : e.Status === 'DISABLING' ? 'DISABLED' : e.Status } };
      }
      return next;
    });
    if (becameActive && !this.#closed) await this.#startDelivery(st);
  }

  async #remove(st: DeliveryStreamState): Promise<void> {
    const m = st.meta;
    await this.#stopDelivery(st);
    await st.writeChain;
    await this.meta.delete(metaKey(m));
    this.#byName.delete(nameKey(m.accountId, m.region, m.name));
    this.metrics.forget(m.name);
    // The data goes in the background: the name is free at once, and log ids are never reused.
    void (async () => {
      await this.meta.delete(Pipeline.progressKey(m.logId));
      for (const cp of await this.meta.list(KinesisSource.checkpointPrefix(m.logId))) await this.meta.delete(cp.key);
      await this.#storage.log.dropShard({ streamId: m.logId, shardIndex: 0 });
    })().catch(() => undefined);
  }

  async #startDelivery(st: DeliveryStreamState): Promise<void> {
    if (st.pipeline) return;
    const m = st.meta;
    const pipeline = new Pipeline(m, {
      log: this.#storage.log,
      meta: this.meta,
      clock: this.clock,
      objects: this.#objects,
      components: this.options.components,
      metrics: this.metrics,
      report: this.options.log,
    });
    st.pipeline = pipeline;
    await pipeline.start();
    if (m.type === DeliveryStreamType.KinesisStreamAsSource && m.kinesisSource) {
      const source = new KinesisSource({
        logId: m.logId,
        deliveryStreamName: m.name,
        streamArn: m.kinesisSource.KinesisStreamARN,
        startMs: m.kinesisSource.deliveryStartMs,
        kinesis: this.options.kinesis,
        meta: this.meta,
        clock: this.clock,
        pipeline,
        metrics: this.metrics,
        report: this.options.log,
        pollMs: this.options.kinesisPollMs,
      });
      st.source = source;
      await source.start();
    }
  }

  async #stopDelivery(st: DeliveryStreamState): Promise<void> {
    const { source, pipeline } = st;
    st.source = undefined;
    st.pipeline = undefined;
    await source?.close();
    await pipeline?.close();
  }

  // ------------------------------------------------------------------------------------ records

  /**
   * Accepts records into an ACTIVE DirectPut stream. Resolves once they are durable, with a RecordId
   * each, or an error code for records refused by the throughput quotas.
   */
  async put(st: DeliveryStreamState, data: readonly Uint8Array[]): Promise<({ RecordId: string } | { ErrorCode: string; ErrorMessage: string })[]> {
    const m = st.meta;
    if (m.type !== DeliveryStreamType.DirectPut) {
      throw firehoseErrors.InvalidArgumentException(`This operation is not permitted on ${m.type} delivery stream type.`);
    }
    if (m.status !== DeliveryStreamStatus.ACTIVE || st.pipeline === undefined) {
      throw deliveryStreamNotFound(m.name, m.accountId);
    }
    let admitted = data.length;
    if (this.options.throttle) admitted = this.#admit(st, data);
    if (admitted === 0) {
      this.metrics.throttled(m.name, data.length);
      throw firehoseErrors.ServiceUnavailableException('Slow down.');
    }
    const now = this.clock.now();
    let positions: bigint[];
    try {
      positions = await st.pipeline.append(
        data.slice(0, admitted).map((d) => ({ data: d })),
        now,
      );
    } catch (e) {
      this.options.log(`firehose ${m.name}: append failed: ${e instanceof Error ? e.message : String(e)}`);
      throw firehoseErrors.ServiceUnavailableException('Slow down.');
    }
    if (admitted < data.length) this.metrics.throttled(m.name, data.length - admitted);
    return data.map((_, i) =>
      i < admitted ? { RecordId: recordId(m.logId, positions[i]!) } : { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' },
    );
  }

  /** How many of the records fit the stream's quotas now (records, bytes, requests per second). */
  #admit(st: DeliveryStreamState, data: readonly Uint8Array[]): number {
    const now = this.clock.now();
    if (st.limits === undefined) {
      const q = quotas(st.meta.region);
      st.limits = { records: new TokenBucket(q.records, q.records, now), requests: new TokenBucket(q.requests, q.requests, now), bytes: new TokenBucket(q.bytes, q.bytes, now) };
    }
    const l = st.limits;
    if (!l.requests.tryTake(1, now)) return 0;
    let n = 0;
    for (const d of data) {
      if (!l.records.tryTake(1, now)) break;
      if (!l.bytes.tryTake(d.byteLength, now)) {
        l.records.refund(1);
        break;
      }
      n++;
    }
    return n;
  }

  /** Encryption calls in the last 24 hours (Start + Stop ≤ 25: checklist 4.2). */
  recentEncryptionCalls(m: DeliveryStreamMeta): number[] {
    const since = this.clock.now() - DAY_MS;
    return m.encryptionCalls.filter((t) => t > since);
  }
}

export function nameKey(accountId: string, region: string, name: string): string {
  return `${accountId}/${region}/${name}`;
}

function metaKey(m: DeliveryStreamMeta): string {
  return `firehose/stream/${m.accountId}/${m.region}/${m.name}`;
}

/** Random bytes of this server process, in every RecordId it hands out. */
const PROCESS_NONCE = randomBytes(12);

/**
 * A RecordId: AWS's are long opaque base64 strings. Ours carry the log and position of the record
 * (so it can be traced in the log) and a per-process random part, so that they stay unique when a
 * data directory is wiped and positions start again. (Random bytes per record cost a tenth of the
 * server's time in PutRecordBatch: measured with bench/firehose.mjs and --cpu-prof.)
 */
function recordId(logId: number, position: bigint): string {
  const b = Buffer.allocUnsafe(24);
  PROCESS_NONCE.copy(b, 0);
  b.writeUInt32BE(logId, 12);
  b.writeBigUInt64BE(position, 16);
  return b.toString('base64');
}
