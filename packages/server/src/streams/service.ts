import { randomBytes } from 'node:crypto';
import { type Clock } from '../core/clock.js';
import { errors } from '../core/errors.js';
import { evenRanges } from '../core/hash-key.js';
import { toWords } from '../core/md5.js';
import { shardIdOf, streamArn } from '../core/ids.js';
import { SequenceEncoder, encodeSequenceNumber, type SequenceNumber, shardStartingSequenceNumber } from '../core/sequence-number.js';
import type { ColumnPart, MetaStore, ShardRef, Storage, StoredRecord } from '../storage/types.js';
import { KeyStore } from './key-store.js';
import type { RecordBatch } from '../core/record-batch.js';
import { MiB, ShardLimits, TokenBucket } from './throttle.js';
import { TokenSealer } from './tokens.js';
import { type ConsumerMeta, type PendingChange, type ShardMeta, type StreamMeta, StreamMode, StreamStatus } from './types.js';

/** Where an append put each admitted record: part `part[k]`, `rank[k]` records after the part's first. */
export interface Placement {
  readonly parts: readonly ColumnPart[];
  readonly part: Int32Array;
  readonly rank: Int32Array;
}

export interface StreamsOptions {
  readonly clock: Clock;
  /** How long CREATING, UPDATING and DELETING last. */
  readonly stateDelayMs: number;
  /** Enforce AWS's per-shard read and write limits. */
  readonly throttle: boolean;
  /** Provisioned shards per account (DescribeLimits ShardLimit). */
  readonly shardLimit: number;
  /** On-demand streams per account. */
  readonly onDemandStreamCountLimit: number;
  /** How often retention trimming and on-demand scaling run (real time). */
  readonly maintenanceIntervalMs: number;
  /** How often an idle SubscribeToShard gets an empty event (real time). */
  readonly heartbeatMs: number;
  /**
   * How long a SubscribeToShard that has ended (taken over, consumer deleted, 5 minutes up) waits
   * for a client that has stopped reading to take its last events, before its stream is reset
   * (real time). Without it such a client would hold its HTTP/2 stream and a buffered event forever.
   */
  readonly stalledStreamMs: number;
}

export const defaultStreamsOptions = {
  stateDelayMs: 500,
  throttle: true,
  shardLimit: 500,
  onDemandStreamCountLimit: 50,
  maintenanceIntervalMs: 10_000,
  heartbeatMs: 5_000,
  stalledStreamMs: 5_000,
} satisfies Partial<StreamsOptions>;

/** Live, unpersisted state of one shard: its write cursor and its rate buckets. */
export class ShardRuntime {
  /** Next position to allocate (positions start at 1; 0 is the shard's StartingSequenceNumber). */
  next: bigint;
  /** Next position not yet known durable: every position below it is committed or abandoned. */
  durable: bigint;
  inflight = 0;
  lastArrivalMs: number;
  readonly writeBytes: TokenBucket;
  readonly writeRecords: TokenBucket;
  readonly readCalls: TokenBucket;
  readonly readBytes: TokenBucket;
  readonly iteratorCalls: TokenBucket;
  /** Called after records become durable (long polls, SubscribeToShard). */
  readonly listeners = new Set<() => void>();
  /** Recent write volume for on-demand scaling. */
  windowBytes = 0;
  windowRecords = 0;

  constructor(
    readonly ref: ShardRef,
    last: bigint | undefined,
    now: number,
  ) {
    this.next = (last ?? 0n) + 1n;
    this.durable = this.next;
    this.lastArrivalMs = 0;
    this.writeBytes = new TokenBucket(ShardLimits.writeBytesPerSec, ShardLimits.writeBytesPerSec, now);
    this.writeRecords = new TokenBucket(ShardLimits.writeRecordsPerSec, ShardLimits.writeRecordsPerSec, now);
    this.readCalls = new TokenBucket(ShardLimits.readCallsPerSec, ShardLimits.readCallsPerSec, now);
    this.readBytes = new TokenBucket(ShardLimits.readBytesPerSec, ShardLimits.readBytesPerSec, now);
    this.iteratorCalls = new TokenBucket(ShardLimits.getShardIteratorPerSec, ShardLimits.getShardIteratorPerSec, now);
  }

  notify(): void {
    for (const l of this.listeners) l();
  }
}

/** A stream as held in memory: its persisted meta plus the runtime of each shard. */
export class StreamState {
  meta: StreamMeta;
  version: number;
  readonly shards = new Map<number, ShardRuntime>();
  /** Open shards sorted by starting hash key, for routing. */
  routing: { start: bigint; end: bigint; index: number; startWords: readonly number[] }[] = [];
  /** In-flight transition, shared by concurrent callers. */
  settling: Promise<void> | undefined;
  /** Serialises meta writes of this stream. */
  writeChain: Promise<unknown> = Promise.resolve();

  constructor(meta: StreamMeta, version: number) {
    this.meta = meta;
    this.version = version;
    this.rebuildRouting();
  }

  /** Every shard (open or closed) by index. */
  #byIndex = new Map<number, ShardMeta>();

  rebuildRouting(): void {
    this.#byIndex = new Map(this.meta.shards.map((s) => [s.index, s]));
    this.routing = this.meta.shards
      .filter((s) => s.closedMs === undefined)
      .map((s) => ({ start: BigInt(s.start), end: BigInt(s.end), index: s.index, startWords: toWords(BigInt(s.start)) }))
      .sort((a, b) => (a.start < b.start ? -1 : 1));
  }

  /** The open shard whose range holds the hash key. */
  route(hash: bigint): number {
    const r = this.routing;
    let lo = 0;
    let hi = r.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (r[mid]!.start <= hash) lo = mid;
      else hi = mid - 1;
    }
    return r[lo]!.index;
  }

  /** The open shard holding a hash given as four big-endian 32-bit words (no BigInt on the hot path). */
  routeWords(h: Uint32Array): number {
    const r = this.routing;
    let lo = 0;
    let hi = r.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const w = r[mid]!.startWords;
      let le = true;
      for (let i = 0; i < 4; i++) {
        if (w[i]! !== h[i]!) {
          le = w[i]! < h[i]!;
          break;
        }
      }
      if (le) lo = mid;
      else hi = mid - 1;
    }
    return r[lo]!.index;
  }

  shard(index: number): ShardMeta | undefined {
    return this.#byIndex.get(index);
  }
}

/** A running SubscribeToShard call. */
export interface Subscription {
  readonly startedMs: number;
  /** Stops it; with a reason, the client gets that error as an exception event first. */
  end(reason?: Error): void;
}

export interface Caller {
  readonly accountId: string;
  readonly region: string;
}

export interface StreamRefInput {
  readonly StreamName?: string | undefined;
  readonly StreamARN?: string | undefined;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Data Streams state: the streams of every account and region, their shards and the transitions
 * between states. Operations (./ops) call into this; it alone talks to storage.
 */
export class StreamsService {
  readonly options: StreamsOptions;
  readonly clock: Clock;
  readonly storage: Storage;
  readonly keys: KeyStore;
  tokens!: TokenSealer;
  readonly #byName = new Map<string, StreamState>();
  readonly #byId = new Map<number, StreamState>();
  readonly #policies = new Map<string, string>();
  /** One sequence-number encoder per shard (its index and creation time never change). */
  readonly #sequenceEncoders = new WeakMap<ShardMeta, SequenceEncoder>();
  /** Live SubscribeToShard calls by `consumerARN|shardIndex`. */
  readonly subscriptions = new Map<string, Subscription>();
  #nextStreamId = 1;
  #timer: NodeJS.Timeout | undefined;
  #maintaining = false;
  #closed = false;

  constructor(storage: Storage, options: StreamsOptions) {
    this.storage = storage;
    this.options = options;
    this.clock = options.clock;
    this.keys = new KeyStore(storage.meta);
  }

  get meta(): MetaStore {
    return this.storage.meta;
  }

  async start(): Promise<void> {
    const secret = await this.meta.get<string>('server/secret');
    let key: Buffer;
    if (secret) key = Buffer.from(secret.value, 'base64');
    else {
      key = TokenSealer.newKey();
      await this.meta.put('server/secret', key.toString('base64'), 0);
    }
    this.tokens = new TokenSealer(key);
    await this.keys.load();
    const counter = await this.meta.get<number>('server/next-stream-id');
    this.#nextStreamId = counter?.value ?? 1;
    for (const { value, version } of await this.meta.list<StreamMeta>('stream/')) {
      const st = new StreamState(value, version);
      this.#byName.set(nameKey(value.accountId, value.region, value.name), st);
      this.#byId.set(value.id, st);
      this.#nextStreamId = Math.max(this.#nextStreamId, value.id + 1);
      for (const s of value.shards) await this.#initRuntime(st, s);
    }
    for (const { value } of await this.meta.list<{ arn: string; policy: string }>('policy/')) {
      this.#policies.set(value.arn, value.policy);
    }
    this.#timer = setInterval(() => void this.maintain(), this.options.maintenanceIntervalMs);
    this.#timer.unref();
  }

  /** Ends every subscription of a consumer (deregistration, stream deletion). */
  endSubscriptions(consumerArn: string, reason?: Error): void {
    for (const [k, sub] of this.subscriptions) if (k.startsWith(`${consumerArn}|`)) sub.end(reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const sub of this.subscriptions.values()) sub.end();
    if (this.#timer) clearInterval(this.#timer);
    for (const st of this.#byId.values()) await st.writeChain.catch(() => undefined);
  }

  async #initRuntime(st: StreamState, s: ShardMeta): Promise<ShardRuntime> {
    const ref = { streamId: st.meta.id, shardIndex: s.index };
    const last = await this.storage.log.lastPosition(ref);
    const rt = new ShardRuntime(ref, last, this.clock.now());
    if (last !== undefined) {
      const [rec] = await this.storage.log.read(ref, last, { maxRecords: 1, maxBytes: Infinity });
      if (rec) rt.lastArrivalMs = rec.arrivalMs;
    }
    st.shards.set(s.index, rt);
    return rt;
  }

  // ---------------------------------------------------------------- lookup

  /** Resolves StreamName/StreamARN to a stream (settling any due transition first). */
  async find(caller: Caller, input: StreamRefInput, opts: { allowDeleting?: boolean } = {}): Promise<StreamState> {
    const { name, accountId, region } = resolveName(caller, input);
    const st = this.#byName.get(nameKey(accountId, region, name));
    if (!st) throw notFound(name, accountId);
    await this.settle(st);
    if (!this.#byId.has(st.meta.id)) throw notFound(name, accountId);
    if (st.meta.status === StreamStatus.DELETING && !opts.allowDeleting) throw notFound(name, accountId);
    return st;
  }

  /** A stream by internal id (iterators carry it); undefined once deleted. */
  async byId(id: number): Promise<StreamState | undefined> {
    const st = this.#byId.get(id);
    if (!st) return undefined;
    await this.settle(st);
    return this.#byId.get(id);
  }

  /** Every live stream of an account and region, sorted by name. */
  async list(caller: Caller): Promise<StreamState[]> {
    const out: StreamState[] = [];
    for (const st of this.#byId.values()) {
      if (st.meta.accountId !== caller.accountId || st.meta.region !== caller.region) continue;
      await this.settle(st);
      if (this.#byId.has(st.meta.id)) out.push(st);
    }
    return out.sort((a, b) => (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0));
  }

  allStreams(): IterableIterator<StreamState> {
    return this.#byId.values();
  }

  runtime(st: StreamState, index: number): ShardRuntime {
    const rt = st.shards.get(index);
    if (!rt) throw errors.InternalFailureException(`no runtime for shard ${index}`);
    return rt;
  }

  // ---------------------------------------------------------------- persistence

  /** Persists a new meta for the stream (serialised per stream) and makes it current. */
  async commit(st: StreamState, next: StreamMeta): Promise<void> {
    const run = st.writeChain.then(async () => {
      st.version = await this.meta.put(metaKey(next), next, st.version);
      st.meta = next;
      st.rebuildRouting();
    });
    st.writeChain = run.catch(() => undefined);
    await run;
  }

  /** Applies a change to the current meta under the per-stream write chain. */
  async update(st: StreamState, change: (m: StreamMeta) => StreamMeta): Promise<StreamMeta> {
    let result: StreamMeta | undefined;
    const run = st.writeChain.then(async () => {
      const next = change(st.meta);
      st.version = await this.meta.put(metaKey(next), next, st.version);
      st.meta = next;
      st.rebuildRouting();
      result = next;
    });
    st.writeChain = run.catch(() => undefined);
    await run;
    return result!;
  }

  // ---------------------------------------------------------------- create / delete

  async createStream(
    caller: Caller,
    args: { name: string; shardCount: number; mode: StreamMode; tags: Record<string, string>; maxRecordSizeKiB: number; warmThroughputMiBps?: number },
  ): Promise<void> {
    const key = nameKey(caller.accountId, caller.region, args.name);
    const existing = this.#byName.get(key);
    if (existing) {
      await this.settle(existing);
      if (this.#byName.get(key)) {
        throw errors.ResourceInUseException(`Stream ${args.name} under account ${caller.accountId} already exists.`);
      }
    }
    const creating = [...this.#byId.values()].filter(
      (s) => s.meta.accountId === caller.accountId && s.meta.status === StreamStatus.CREATING,
    ).length;
    if (creating >= 5) {
      throw errors.LimitExceededException(
        `Account ${caller.accountId} has ${creating} streams in CREATING state; at most 5 streams can be created at the same time.`,
      );
    }
    if (args.mode === StreamMode.ON_DEMAND) await this.checkOnDemandLimit(caller);
    this.checkShardLimit(caller, args.shardCount);
    const now = this.clock.now();
    const id = this.#nextStreamId++;
    await this.meta.put('server/next-stream-id', this.#nextStreamId);
    const shards: ShardMeta[] = evenRanges(args.shardCount).map((r, i) => ({
      index: i,
      createdMs: now,
      start: r.start.toString(),
      end: r.end.toString(),
    }));
    const meta: StreamMeta = {
      id,
      name: args.name,
      accountId: caller.accountId,
      region: caller.region,
      arn: streamArn(caller.region, caller.accountId, args.name),
      status: StreamStatus.CREATING,
      pending: { kind: 'create' },
      dueMs: now + this.options.stateDelayMs,
      createdMs: now,
      retentionHours: 24,
      mode: args.mode,
      shards,
      nextShardIndex: args.shardCount,
      tags: args.tags,
      shardLevelMetrics: [],
      encryptionType: 'NONE',
      maxRecordSizeKiB: args.maxRecordSizeKiB,
      ...(args.warmThroughputMiBps !== undefined ? { warmThroughputMiBps: args.warmThroughputMiBps } : {}),
      history: { resize: [], mode: [], encryption: [] },
      consumers: [],
    };
    // Registered before the await so a concurrent CreateStream of the same name sees it.
    const st = new StreamState(meta, 0);
    this.#byName.set(key, st);
    this.#byId.set(id, st);
    try {
      st.version = await this.meta.put(metaKey(meta), meta, 0);
      for (const s of shards) await this.#initRuntime(st, s);
    } catch (e) {
      this.#byName.delete(key);
      this.#byId.delete(id);
      throw e;
    }
    await this.settle(st);
  }

  /** Open shards of the account (provisioned streams count toward the shard limit). */
  openShardCount(caller: Caller): number {
    let n = 0;
    for (const st of this.#byId.values()) {
      if (st.meta.accountId !== caller.accountId || st.meta.region !== caller.region) continue;
      n += st.meta.shards.filter((s) => s.closedMs === undefined).length;
    }
    return n;
  }

  /** One more on-demand stream (created, or switched from provisioned) must fit the account's limit. */
  async checkOnDemandLimit(caller: Caller): Promise<void> {
    const onDemand = (await this.list(caller)).filter((s) => s.meta.mode === StreamMode.ON_DEMAND).length;
    if (onDemand >= this.options.onDemandStreamCountLimit) {
      throw errors.LimitExceededException(
        `This request would exceed the on-demand stream count limit for the account ${caller.accountId}. Current on-demand stream count: ${onDemand}. Limit: ${this.options.onDemandStreamCountLimit}.`,
      );
    }
  }

  checkShardLimit(caller: Caller, additional: number): void {
    const current = this.openShardCount(caller);
    if (current + additional > this.options.shardLimit) {
      throw errors.LimitExceededException(
        `This request would exceed the shard limit for the account ${caller.accountId} in ${caller.region}. Current shard count for the account: ${current}. Limit: ${this.options.shardLimit}. Number of additional shards that would have resulted from this request: ${additional}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.`,
      );
    }
  }

  async deleteStream(st: StreamState, enforceConsumerDeletion: boolean): Promise<void> {
    const m = st.meta;
    if (m.status === StreamStatus.DELETING) return;
    if (m.consumers.length > 0 && !enforceConsumerDeletion) {
      throw errors.ResourceInUseException(
        `Stream ${m.name} under account ${m.accountId} has registered consumers. Set EnforceConsumerDeletion to true to delete it with its consumers.`,
      );
    }
    await this.update(st, (cur) => ({
      ...cur,
      status: StreamStatus.DELETING,
      pending: { kind: 'delete' } as PendingChange,
      dueMs: this.clock.now() + this.options.stateDelayMs,
      consumers: cur.consumers.map((c) => ({ ...c, status: 'DELETING' as const })),
    }));
    await this.settle(st);
  }

  /** Starts an asynchronous change: the stream goes UPDATING until the change takes effect. */
  async beginChange(st: StreamState, change: PendingChange, extra: (m: StreamMeta) => Partial<StreamMeta> = () => ({})): Promise<void> {
    await this.update(st, (cur) => ({
      ...cur,
      ...extra(cur),
      status: StreamStatus.UPDATING,
      pending: change,
      dueMs: this.clock.now() + this.options.stateDelayMs,
    }));
    await this.settle(st);
  }

  requireActive(st: StreamState): void {
    const m = st.meta;
    if (m.status !== StreamStatus.ACTIVE) {
      throw errors.ResourceInUseException(`Stream ${m.name} under account ${m.accountId} not ACTIVE, instead in state ${m.status}`);
    }
  }

  // ---------------------------------------------------------------- transitions

  /** Applies the stream's pending change if it is due. Concurrent callers share one application. */
  async settle(st: StreamState): Promise<void> {
    for (;;) {
      if (st.settling) {
        await st.settling;
        continue;
      }
      if (this.#byId.get(st.meta.id) !== st) return;
      const consumerDue = st.meta.consumers.some((c) => c.status !== 'ACTIVE' && c.dueMs <= this.clock.now());
      if (!consumerDue && (st.meta.pending === undefined || (st.meta.dueMs ?? 0) > this.clock.now())) return;
      st.settling = this.#apply(st).finally(() => {
        st.settling = undefined;
      });
    }
  }

  async #apply(st: StreamState): Promise<void> {
    const now = this.clock.now();
    const m = st.meta;
    if (m.consumers.some((c) => c.status !== 'ACTIVE' && c.dueMs <= now)) {
      await this.update(st, (cur) => ({
        ...cur,
        consumers: cur.consumers
          .filter((c) => !(c.status === 'DELETING' && c.dueMs <= now))
          .map((c) => (c.status === 'CREATING' && c.dueMs <= now ? { ...c, status: 'ACTIVE' as const } : c)),
      }));
    }
    const p = st.meta.pending;
    if (p === undefined || (st.meta.dueMs ?? 0) > now) return;
    if (p.kind === 'delete') {
      await this.#removeStream(st);
      return;
    }
    const newShards: ShardMeta[] = [];
    const closed: number[] = [];
    await this.update(st, (cur) => {
      let shards = [...cur.shards];
      let nextIndex = cur.nextShardIndex;
      let extra: Partial<StreamMeta> = {};
      const close = (index: number): void => {
        closed.push(index);
        const rt = st.shards.get(index);
        shards = shards.map((s) =>
          s.index === index ? { ...s, closedMs: now, endPosition: (rt ? rt.next : 1n).toString() } : s,
        );
      };
      const add = (s: Omit<ShardMeta, 'index' | 'createdMs'>): void => {
        const shard = { index: nextIndex++, createdMs: now, ...s };
        shards.push(shard);
        newShards.push(shard);
      };
      switch (p.kind) {
        case 'create':
          break;
        case 'split': {
          const parent = shards.find((s) => s.index === p.shard)!;
          close(p.shard);
          add({ parent: p.shard, start: parent.start, end: (BigInt(p.newStartingHashKey) - 1n).toString() });
          add({ parent: p.shard, start: p.newStartingHashKey, end: parent.end });
          break;
        }
        case 'merge': {
          const a = shards.find((s) => s.index === p.shard)!;
          const b = shards.find((s) => s.index === p.adjacent)!;
          close(p.shard);
          close(p.adjacent);
          const start = BigInt(a.start) < BigInt(b.start) ? a.start : b.start;
          const end = BigInt(a.end) > BigInt(b.end) ? a.end : b.end;
          add({ parent: p.shard, adjacentParent: p.adjacent, start, end });
          break;
        }
        case 'resize': {
          // Uniform scaling as AWS does it, through pairwise splits and merges (checklist 1.7:
          // "may create short-lived intermediate shards"), so that every closed shard has children
          // and every child names its parents exactly: first split open shards at each target
          // boundary they contain, then merge the pieces of each target range left to right.
          const targets = evenRanges(p.target);
          for (const r of targets) {
            const b = r.start;
            if (b === 0n) continue;
            const holder = shards.find((s) => s.closedMs === undefined && BigInt(s.start) < b && b <= BigInt(s.end));
            if (!holder) continue;
            close(holder.index);
            add({ parent: holder.index, start: holder.start, end: (b - 1n).toString() });
            add({ parent: holder.index, start: b.toString(), end: holder.end });
          }
          for (const r of targets) {
            const pieces = shards
              .filter((s) => s.closedMs === undefined && BigInt(s.start) >= r.start && BigInt(s.end) <= r.end)
              .sort((x, y) => (BigInt(x.start) < BigInt(y.start) ? -1 : 1));
            let acc = pieces[0];
            for (const next of pieces.slice(1)) {
              if (!acc) break;
              close(acc.index);
              close(next.index);
              const merged = { index: nextIndex, createdMs: now, parent: acc.index, adjacentParent: next.index, start: acc.start, end: next.end };
              add({ parent: acc.index, adjacentParent: next.index, start: acc.start, end: next.end });
              acc = merged;
            }
          }
          break;
        }
        case 'mode':
          extra = { mode: p.mode, ...(p.warmThroughputMiBps !== undefined ? { warmThroughputMiBps: p.warmThroughputMiBps } : {}) };
          break;
        case 'encryption':
          extra = { encryptionType: p.encryptionType, ...(p.keyId !== undefined ? { keyId: p.keyId } : {}) };
          break;
        case 'warm':
          extra = { warmThroughputMiBps: p.warmThroughputMiBps };
          break;
      }
      const next: StreamMeta = { ...cur, ...extra, shards, nextShardIndex: nextIndex, status: StreamStatus.ACTIVE };
      const { pending: _p, dueMs: _d, ...rest } = next;
      const out = rest as StreamMeta;
      if (p.kind === 'encryption' && p.encryptionType === 'NONE') {
        const { keyId: _k, ...clear } = out;
        return clear as StreamMeta;
      }
      return out;
    });
    for (const s of newShards) await this.#initRuntime(st, s);
    // Readers waiting on a shard that just closed (SubscribeToShard) send its end at once.
    for (const index of closed) st.shards.get(index)?.notify();
  }

  async #removeStream(st: StreamState): Promise<void> {
    const m = st.meta;
    await st.writeChain;
    await this.meta.delete(metaKey(m));
    this.#byName.delete(nameKey(m.accountId, m.region, m.name));
    this.#byId.delete(m.id);
    for (const c of m.consumers) {
      this.#policies.delete(c.arn);
      this.endSubscriptions(c.arn);
    }
    if (this.#policies.delete(m.arn)) await this.meta.delete(policyKey(m.arn));
    for (const rt of st.shards.values()) rt.notify();
    // Data goes in the background: the name is free at once, and ids are never reused.
    void (async () => {
      for (const s of m.shards) await this.storage.log.dropShard({ streamId: m.id, shardIndex: s.index }).catch(() => undefined);
    })();
  }

  // ---------------------------------------------------------------- records

  retentionCutoff(st: StreamState): number {
    return this.clock.now() - st.meta.retentionHours * HOUR;
  }

  /** Shards still within retention (closed shards expire once their last record would have). */
  liveShards(st: StreamState): ShardMeta[] {
    const cutoff = this.retentionCutoff(st);
    return st.meta.shards.filter((s) => s.closedMs === undefined || s.closedMs >= cutoff);
  }

  startingSequenceNumber(s: ShardMeta): SequenceNumber {
    return shardStartingSequenceNumber(Math.floor(s.createdMs / 1000), s.index);
  }

  endingSequenceNumber(s: ShardMeta): SequenceNumber | undefined {
    if (s.closedMs === undefined || s.endPosition === undefined) return undefined;
    return encodeSequenceNumber({
      shardCreatedSec: Math.floor(s.createdMs / 1000),
      shardIndex: s.index,
      position: BigInt(s.endPosition),
      arrivalSec: Math.floor(s.closedMs / 1000),
    });
  }

  sequenceNumber(s: ShardMeta, position: bigint, arrivalMs: number): SequenceNumber {
    return this.#encoder(s).encode(position, Math.floor(arrivalMs / 1000));
  }

  /** The sequence number of the record `rank` positions after `first` in shard s. */
  sequenceNumberAt(s: ShardMeta, first: bigint, rank: number, arrivalMs: number): SequenceNumber {
    return this.#encoder(s).encodeAt(first, rank, Math.floor(arrivalMs / 1000));
  }

  /**
   * Writes the sequence numbers of positions first, first + 1, ... of shard s, one per call, at
   * `at` of the bytes `buf` sees (60 bytes of room); each call returns where its digits end.
   */
  sequenceRun(s: ShardMeta, first: bigint, arrivalMs: number): (buf: DataView, at: number) => number {
    return this.#encoder(s).run(first, Math.floor(arrivalMs / 1000));
  }

  #encoder(s: ShardMeta): SequenceEncoder {
    let enc = this.#sequenceEncoders.get(s);
    if (enc === undefined) {
      enc = new SequenceEncoder(Math.floor(s.createdMs / 1000), s.index);
      this.#sequenceEncoders.set(s, enc);
    }
    return enc;
  }

  /**
   * Appends records that were already routed and admitted (`admitted`: their indexes in `batch`,
   * in call order; `shards[i]`: record i's shard). Positions are allocated here, in call order, so
   * they are strictly increasing per shard; the promise resolves once all are durable, with where
   * each admitted record went: part `part[k]` of the append, `rank[k]` records after its first.
   */
  async append(
    st: StreamState,
    batch: RecordBatch,
    shards: readonly ShardMeta[],
    admitted: Int32Array,
    keyRef: number,
  ): Promise<Placement> {
    const now = this.clock.now();
    const n = admitted.length;
    const part = new Int32Array(n);
    const rank = new Int32Array(n);
    const parts: { shard: ShardRef; first: bigint; arrivalMs: number; records: number[] }[] = [];
    const partRuntimes: ShardRuntime[] = [];
    // Each shard's part, by shard index (records of one shard often come in a row: checked first).
    const partOf = new Map<number, number>();
    let last = -1;
    for (let k = 0; k < n; k++) {
      const i = admitted[k]!;
      const index = shards[i]!.index;
      let p = last >= 0 && partRuntimes[last]!.ref.shardIndex === index ? last : (partOf.get(index) ?? -1);
      if (p < 0) {
        const rt = this.runtime(st, index);
        const arrivalMs = rt.lastArrivalMs > now ? rt.lastArrivalMs : now;
        rt.lastArrivalMs = arrivalMs;
        p = parts.length;
        parts.push({ shard: rt.ref, first: rt.next, arrivalMs, records: [] });
        partRuntimes.push(rt);
        partOf.set(index, p);
      }
      last = p;
      part[k] = p;
      rank[k] = parts[p]!.records.length;
      parts[p]!.records.push(i);
    }
    for (let p = 0; p < parts.length; p++) {
      const rt = partRuntimes[p]!;
      rt.next += BigInt(parts[p]!.records.length);
      rt.inflight++;
    }
    let { data, bounds } = batch;
    if (keyRef !== 0) ({ data, bounds } = this.#encrypted(batch, admitted, keyRef));
    try {
      await this.storage.log.appendColumns({ keyId: keyRef, data, keys: batch.keys, bounds, parts });
    } finally {
      for (let p = 0; p < parts.length; p++) {
        const rt = partRuntimes[p]!;
        const upTo = parts[p]!.first + BigInt(parts[p]!.records.length);
        rt.inflight--;
        if (upTo > rt.durable) rt.durable = upTo;
        rt.notify();
      }
    }
    return { parts, part, rank };
  }

  /** The data column of the admitted records encrypted under keyRef (no part refers to the others). */
  #encrypted(batch: RecordBatch, admitted: Int32Array, keyRef: number): { data: Buffer; bounds: Int32Array } {
    const bounds = batch.bounds.slice();
    const sealed: Buffer[] = [];
    let at = 0;
    for (const i of admitted) {
      const c = this.keys.encrypt(keyRef, batch.data.subarray(bounds[4 * i], bounds[4 * i + 1]));
      bounds[4 * i] = at;
      at += c.length;
      bounds[4 * i + 1] = at;
      sealed.push(c);
    }
    return { data: Buffer.concat(sealed, at), bounds };
  }

  /** Decrypts a stored record's data when it was stored encrypted. */
  plain(rec: StoredRecord): Uint8Array {
    return rec.keyId === 0 ? rec.data : this.keys.decrypt(rec.keyId, rec.data);
  }

  /**
   * Reads a shard from a position, skipping records past retention. Returns the records and the
   * position to continue from.
   */
  async read(st: StreamState, shard: ShardMeta, from: bigint, limits: { maxRecords: number; maxBytes: number }): Promise<{ records: StoredRecord[]; next: bigint }> {
    const ref = { streamId: st.meta.id, shardIndex: shard.index };
    const cutoff = this.retentionCutoff(st);
    let records = await this.storage.log.read(ref, from, limits);
    if (records.length > 0 && records[0]!.arrivalMs < cutoff) {
      const live = records.findIndex((r) => r.arrivalMs >= cutoff);
      if (live >= 0) records = records.slice(live);
      else {
        const at = await this.storage.log.positionAtTime(ref, cutoff);
        records = at === undefined ? [] : await this.storage.log.read(ref, at, limits);
        if (at === undefined) from = this.runtime(st, shard.index).durable;
      }
    }
    const last = records[records.length - 1];
    return { records, next: last ? last.position + 1n : from };
  }

  /** Children of a closed shard, as ChildShards reports them. */
  childShards(st: StreamState, shard: ShardMeta): { ShardId: string; ParentShards: string[]; HashKeyRange: { StartingHashKey: string; EndingHashKey: string } }[] {
    return st.meta.shards
      .filter((c) => c.parent === shard.index || c.adjacentParent === shard.index)
      .map((c) => ({
        ShardId: shardIdOf(c.index),
        ParentShards: [c.parent, c.adjacentParent].filter((x): x is number => x !== undefined).map(shardIdOf),
        HashKeyRange: { StartingHashKey: c.start, EndingHashKey: c.end },
      }));
  }

  // ---------------------------------------------------------------- policies

  getPolicy(arn: string): string | undefined {
    return this.#policies.get(arn);
  }

  async putPolicy(arn: string, policy: string): Promise<void> {
    await this.meta.put(policyKey(arn), { arn, policy });
    this.#policies.set(arn, policy);
  }

  async deletePolicy(arn: string): Promise<boolean> {
    if (!this.#policies.has(arn)) return false;
    await this.meta.delete(policyKey(arn));
    this.#policies.delete(arn);
    return true;
  }

  // ---------------------------------------------------------------- maintenance

  /** Retention trimming and on-demand scaling; runs on a real-time interval, reads the clock. */
  async maintain(): Promise<void> {
    if (this.#maintaining || this.#closed) return;
    this.#maintaining = true;
    try {
      for (const st of [...this.#byId.values()]) {
        await this.settle(st);
        if (!this.#byId.has(st.meta.id)) continue;
        const cutoff = this.retentionCutoff(st);
        for (const s of st.meta.shards) {
          const ref = { streamId: st.meta.id, shardIndex: s.index };
          const at = await this.storage.log.positionAtTime(ref, cutoff);
          const rt = st.shards.get(s.index);
          // Keep the newest record even when it has expired: it is what tells the position to
          // continue from after a restart, so sequence numbers never go backwards. Reads skip it.
          const newest = (rt?.durable ?? 1n) - 1n;
          const before = at === undefined || at > newest ? newest : at;
          if (before > 1n) await this.storage.log.trim(ref, before);
        }
        if (st.meta.mode === StreamMode.ON_DEMAND) await this.#scaleOnDemand(st);
      }
    } catch {
      // Maintenance is retried on the next tick; a failure here must never take the server down.
    } finally {
      this.#maintaining = false;
    }
  }

  /**
   * On-demand capacity: a shard that took more than half its write limit over the last interval
   * is split in two; when every open shard ran under a tenth of it, the stream shrinks by merging
   * one adjacent pair, never below the initial four shards (checklist 1.6 "On-demand capacity").
   */
  async #scaleOnDemand(st: StreamState): Promise<void> {
    const secs = this.options.maintenanceIntervalMs / 1000;
    const open = st.meta.shards.filter((s) => s.closedMs === undefined).sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
    const rates = open.map((s) => {
      const rt = st.shards.get(s.index);
      const r = rt ? Math.max(rt.windowBytes / MiB, rt.windowRecords / 1000) / secs : 0;
      if (rt) {
        rt.windowBytes = 0;
        rt.windowRecords = 0;
      }
      return { s, r };
    });
    if (st.meta.status !== StreamStatus.ACTIVE) return;
    const hot = rates.filter((x) => x.r > 0.5).sort((a, b) => b.r - a.r)[0];
    if (hot) {
      const start = BigInt(hot.s.start);
      const end = BigInt(hot.s.end);
      if (end - start >= 2n) {
        await this.beginChange(st, { kind: 'split', shard: hot.s.index, newStartingHashKey: (start + (end - start + 1n) / 2n).toString() });
      }
      return;
    }
    if (open.length > 4 && rates.every((x) => x.r < 0.1)) {
      for (let i = 0; i + 1 < open.length; i++) {
        const a = open[i]!;
        const b = open[i + 1]!;
        if (BigInt(a.end) + 1n === BigInt(b.start)) {
          await this.beginChange(st, { kind: 'merge', shard: a.index, adjacent: b.index });
          return;
        }
      }
    }
  }

  /** Counts of rolling-24-hour limits. */
  recent(times: readonly number[]): number[] {
    const since = this.clock.now() - DAY;
    return times.filter((t) => t > since);
  }

  newRandom(): string {
    return randomBytes(8).toString('hex');
  }
}

export function nameKey(accountId: string, region: string, name: string): string {
  return `${accountId}/${region}/${name}`;
}

function metaKey(m: StreamMeta): string {
  return `stream/${m.accountId}/${m.region}/${m.name}`;
}

function policyKey(arn: string): string {
  return `policy/${arn}`;
}

function overlap(a0: bigint, a1: bigint, b0: bigint, b1: bigint): bigint {
  const lo = a0 > b0 ? a0 : b0;
  const hi = a1 < b1 ? a1 : b1;
  return hi >= lo ? hi - lo + 1n : 0n;
}

export function notFound(name: string, accountId: string) {
  return errors.ResourceNotFoundException(`Stream ${name} under account ${accountId} not found.`);
}

/** StreamName or StreamARN (either, or both naming the same stream: checklist 1.1). */
export function resolveName(caller: Caller, input: StreamRefInput): { name: string; accountId: string; region: string } {
  if (input.StreamARN !== undefined) {
    const m = /^arn:aws[^:]*:kinesis:([^:]+):(\d{12}):stream\/([a-zA-Z0-9_.-]+)$/.exec(input.StreamARN);
    if (!m) throw errors.InvalidArgumentException(`StreamARN ${input.StreamARN} is invalid.`);
    const [, region, accountId, name] = m as unknown as [string, string, string, string];
    if (input.StreamName !== undefined && input.StreamName !== name) {
      throw errors.InvalidArgumentException(`StreamARN ${input.StreamARN} and StreamName ${input.StreamName} do not refer to the same stream.`);
    }
    if (accountId !== caller.accountId) {
      throw errors.AccessDeniedException(`User is not authorized to access stream ${input.StreamARN} in account ${accountId}.`);
    }
    return { name, accountId, region };
  }
  if (input.StreamName !== undefined) return { name: input.StreamName, accountId: caller.accountId, region: caller.region };
  throw errors.InvalidArgumentException('Either StreamName or StreamARN should be provided.');
}

