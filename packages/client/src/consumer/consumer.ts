// The worker: lease table, shard discovery, lease coordination, one ShardConsumer per held lease.
import { BatchQueue } from './batch-queue.js';
import { asError, ConsumerError, ConsumerErrorCode } from './errors.js';
import { createFanOutFetcher, ensureStreamConsumer, streamARNOf } from './fan-out.js';
import { type Lease, Sentinel } from './lease.js';
import { LeaseCoordinator } from './lease-coordinator.js';
import { resolveOptions, type ResolvedConsumerOptions } from './options.js';
import { createPollingFetcher } from './polling.js';
import type { Fetcher } from './retrieval.js';
import { ShardConsumer } from './shard-consumer.js';
import { bootstrapLeases, finishedLeasesToDelete, HoleAuditor, Lineage, shardGone } from './shard-sync.js';
import type { Consumer, ConsumerOptions, RecordBatch, RecordProcessor } from './types.js';
import { sleep } from './util.js';

/**
 * A KCL-style worker. Give it a `processor`, then start() and stop(); or iterate it:
 * `for await (const batch of consumer) { …; await batch.checkpoint(); }`.
 */
export function createConsumer(options: ConsumerOptions): Consumer {
  return new Worker(resolveOptions(options));
}

type State = 'new' | 'running' | 'stopping' | 'stopped';

class Worker implements Consumer {
  readonly workerId: string;
  readonly #o: ResolvedConsumerOptions;
  readonly #processor: RecordProcessor;
  readonly #queue: BatchQueue | undefined;
  readonly #coordinator: LeaseCoordinator;
  readonly #shards = new Map<string, ShardConsumer>();
  readonly #stopSync = new AbortController();
  readonly #lineage: Lineage;
  #state: State = 'new';
  #consumerARN: string | undefined;
  #syncLoop: Promise<void> | undefined;
  #auditLoop: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(o: ResolvedConsumerOptions) {
    this.#o = o;
    this.workerId = o.workerId;
    this.#lineage = new Lineage(o.client, o.stream);
    this.#queue = o.processor ? undefined : new BatchQueue();
    this.#processor = o.processor ?? (this.#queue as BatchQueue);
    this.#coordinator = new LeaseCoordinator(
      o.leaseStore,
      {
        workerId: o.workerId,
        failoverTimeMs: o.failoverTimeMs,
        expiryMs: o.expiryMs,
        renewIntervalMs: o.renewIntervalMs,
        takeIntervalMs: o.takeIntervalMs,
        maxLeasesForWorker: o.maxLeasesForWorker,
        maxLeasesToStealAtOneTime: o.maxLeasesToStealAtOneTime,
        onEvent: o.onEvent,
      },
      { taken: (l) => this.#taken(l), lost: (k, how) => this.#lost(k, how) },
    );
    if (o.signal) {
      if (o.signal.aborted) this.#state = 'stopped';
      else o.signal.addEventListener('abort', () => void this.stop(), { once: true });
    }
  }

  start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new ConsumerError(ConsumerErrorCode.SHUTDOWN, 'start() after stop()'));
    }
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    this.#state = 'running';
    await o.leaseStore.initialize({ applicationName: o.applicationName });
    if (o.retrieval === 'fan-out') {
      const arn = await streamARNOf(o.client, o.stream, this.#stopSync.signal);
      this.#consumerARN = await ensureStreamConsumer(o.client, arn, o.consumerName, this.#stopSync.signal);
    }
    const created = await bootstrapLeases(o.client, o.stream, o.leaseStore, o.initialPosition, this.#stopSync.signal);
    if (created.length > 0) o.onEvent({ type: 'leasesCreated', shardIds: created });
    if (this.#state !== 'running') return;
    this.#coordinator.start();
    this.#syncLoop = this.#sync();
    this.#auditLoop = this.#audit();
  }

  /**
   * Periodic (KCL PeriodicShardSyncManager, checklist 3.5): leases for hash-key ranges no open lease
   * covers. The KCL runs it on one leader; here the worker whose id sorts first among the owners of
   * open leases and itself does, so that usually one worker lists shards (creation is conditional,
   * so two doing it at once is harmless).
   */
  async #audit(): Promise<void> {
    const o = this.#o;
    const signal = this.#stopSync.signal;
    const auditor = new HoleAuditor(o.client, o.stream, o.leaseStore, o.initialPosition, o.leasesRecoveryAuditorInconsistencyConfidenceThreshold);
    for (;;) {
      await sleep(o.leasesRecoveryAuditorIntervalMs, signal);
      if (signal.aborted) return;
      try {
        const leases = await o.leaseStore.list();
        let leader = o.workerId;
        for (const l of leases) if (l.leaseOwner !== undefined && l.checkpoint !== Sentinel.SHARD_END && l.leaseOwner < leader) leader = l.leaseOwner;
        if (leader !== o.workerId) continue;
        const created = await auditor.run(leases, signal);
        if (created.length > 0) o.onEvent({ type: 'leasesCreated', shardIds: created });
      } catch (e) {
        if (!signal.aborted) o.onEvent({ type: 'error', operation: 'leasesRecoveryAudit', shardId: undefined, error: asError(e) });
      }
    }
  }

  /** Periodic: bootstrap an emptied table; delete finished leases whose children have started. */
  async #sync(): Promise<void> {
    const o = this.#o;
    const signal = this.#stopSync.signal;
    for (;;) {
      await sleep(o.shardSyncIntervalMs, signal);
      if (signal.aborted) return;
      try {
        const leases = await o.leaseStore.list();
        if (leases.length === 0) {
          const created = await bootstrapLeases(o.client, o.stream, o.leaseStore, o.initialPosition, signal);
          if (created.length > 0) o.onEvent({ type: 'leasesCreated', shardIds: created });
          continue;
        }
        const deleted: string[] = [];
        for (const l of finishedLeasesToDelete(leases)) {
          if (await o.leaseStore.delete(l.leaseKey, { leaseCounter: l.leaseCounter })) deleted.push(l.leaseKey);
        }
        if (deleted.length > 0) o.onEvent({ type: 'leasesDeleted', shardIds: deleted });
      } catch (e) {
        if (!signal.aborted) o.onEvent({ type: 'error', operation: 'shardSync', shardId: undefined, error: asError(e) });
      }
    }
  }

  #fetcher(shardId: string): Fetcher {
    const o = this.#o;
    const gone = (signal: AbortSignal) => shardGone(o.client, o.stream, shardId, signal);
    if (o.retrieval === 'fan-out') {
      return createFanOutFetcher({ client: o.client, consumerARN: this.#consumerARN ?? '', shardId, shardGone: gone, onEvent: o.onEvent });
    }
    return createPollingFetcher({ client: o.client, stream: o.stream, shardId, maxRecords: o.maxRecords, idleTimeBetweenReadsMs: o.idleTimeBetweenReadsMs, shardGone: gone, onEvent: o.onEvent });
  }

  #taken(lease: Lease): void {
    const o = this.#o;
    const key = lease.leaseKey;
    const previous = this.#shards.get(key);
    const sc = new ShardConsumer(
      {
        shardId: key,
        workerId: o.workerId,
        coordinator: this.#coordinator,
        store: o.leaseStore,
        fetcher: this.#fetcher(key),
        processor: this.#processor,
        client: o.client,
        stream: o.stream,
        parentsOf: (id) => this.#lineage.parentsOf(id),
        initialPosition: o.initialPosition,
        parentShardPollIntervalMs: o.parentShardPollIntervalMs,
        taskBackoffMs: o.taskBackoffMs,
        handoffTimeoutMs: o.handoffTimeoutMs,
        handoffPollMs: Math.min(250, o.takeIntervalMs),
        callProcessRecordsEvenForEmptyRecordList: o.callProcessRecordsEvenForEmptyRecordList,
        onEvent: o.onEvent,
      },
      previous?.done,
    );
    this.#shards.set(key, sc);
    void sc.done.finally(() => {
      if (this.#shards.get(key) === sc) this.#shards.delete(key);
    });
  }

  #lost(key: string, how: 'lost' | 'handoff'): void {
    const sc = this.#shards.get(key);
    if (sc) {
      if (how === 'lost') sc.leaseLost();
      else void sc.requestShutdown();
    } else if (how === 'handoff') void this.#coordinator.release(key);
  }

  leases(): string[] {
    return this.#coordinator.heldKeys().sort();
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    const o = this.#o;
    const wasRunning = this.#state === 'running';
    this.#state = 'stopping';
    this.#coordinator.stopTaking();
    this.#stopSync.abort();
    if (wasRunning) {
      await this.#started?.catch(() => undefined);
      this.#queue?.drain(Math.min(5_000, o.failoverTimeMs / 2));
      await Promise.all([...this.#shards.values()].map((s) => s.requestShutdown()));
      await this.#syncLoop;
      await this.#auditLoop;
      await this.#coordinator.close();
    }
    this.#queue?.close();
    if (o.ownsClient) o.client.destroy();
    this.#state = 'stopped';
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordBatch> {
    const queue = this.#queue;
    if (!queue) throw new ConsumerError(ConsumerErrorCode.INVALID_USE, 'this consumer has a processor; iterate a consumer created without one');
    return {
      next: async () => {
        await this.start();
        return queue.next();
      },
      return: async () => {
        await this.stop();
        return { value: undefined, done: true };
      },
    };
  }
}
