// One shard under one lease: the KCL's ShardConsumer states (checklist 3.6) —
// WAITING_ON_PARENT_SHARDS → INITIALIZING → PROCESSING → SHUTTING_DOWN, with the shutdown reason
// REQUESTED (stop() or a graceful steal), SHARD_END or LEASE_LOST.
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ShardCheckpointer } from './checkpointer.js';
import { asError, ConsumerError, ConsumerErrorCode } from './errors.js';
import { checkpointOf, type ExtendedSequenceNumber, isSequenceNumber, type Lease, type LeaseStore, Sentinel } from './lease.js';
import type { LeaseCoordinator } from './lease-coordinator.js';
import { userRecords } from './records.js';
import type { Fetcher, StartingPosition } from './retrieval.js';
import { childrenFromListing, createChildLeases, parentsFinished } from './shard-sync.js';
import type { ConsumerEvent, InitialPosition, RecordProcessor } from './types.js';
import { monotonicMs, sleep } from './util.js';

export interface ShardConsumerContext {
  shardId: string;
  workerId: string;
  coordinator: LeaseCoordinator;
  store: LeaseStore;
  fetcher: Fetcher;
  processor: RecordProcessor;
  client: KinesisClient;
  stream: { StreamName: string } | { StreamARN: string };
  /** A shard's parents in the stream's lineage. */
  parentsOf: (shardId: string) => Promise<readonly string[] | undefined>;
  initialPosition: InitialPosition;
  parentShardPollIntervalMs: number;
  taskBackoffMs: number;
  handoffTimeoutMs: number;
  handoffPollMs: number;
  callProcessRecordsEvenForEmptyRecordList: boolean;
  onEvent: (e: ConsumerEvent) => void;
}

type StopReason = 'lost' | 'requested';

export class ShardConsumer {
  readonly shardId: string;
  readonly done: Promise<void>;
  readonly #c: ShardConsumerContext;
  readonly #abort = new AbortController();
  #stop: StopReason | undefined;

  /** `after`: a previous consumer of the same shard in this worker, which must finish first. */
  constructor(context: ShardConsumerContext, after?: Promise<void>) {
    this.#c = context;
    this.shardId = context.shardId;
    this.done = (after ?? Promise.resolve()).then(() => this.#run());
  }

  /** The lease is gone: stop without checkpointing; leaseLost() is called. */
  leaseLost(): void {
    this.#stop = 'lost';
    this.#abort.abort();
  }

  /** Finish the current batch, call shutdownRequested, release the lease. */
  requestShutdown(): Promise<void> {
    this.#stop ??= 'requested';
    this.#abort.abort();
    return this.done;
  }

  async #run(): Promise<void> {
    const c = this.#c;
    const signal = this.#abort.signal;
    let checkpointer: ShardCheckpointer | undefined;
    let finished = false;
    try {
      let lease = c.coordinator.lease(c.shardId);
      if (!lease || this.#stop) return;
      if (lease.checkpointOwner !== undefined && lease.checkpointOwner !== c.workerId) {
        lease = await this.#awaitHandover();
        if (!lease || this.#stop) return;
      }
      while (!this.#stop) {
        let ok = false;
        try {
          ok = await parentsFinished(c.store, lease.parentShardIds, c.parentsOf);
        } catch (e) {
          c.onEvent({ type: 'error', operation: 'blockOnParentShards', shardId: c.shardId, error: asError(e) });
        }
        if (ok) break;
        await sleep(c.parentShardPollIntervalMs, signal);
      }
      if (this.#stop) return;
      lease = c.coordinator.lease(c.shardId) ?? lease;
      if (lease.checkpoint === Sentinel.SHARD_END) {
        finished = true;
        return;
      }
      const start = checkpointOf(lease);
      c.onEvent({ type: 'shardStarted', shardId: c.shardId, checkpoint: start });
      checkpointer = new ShardCheckpointer(c.shardId, start, { write: (changes) => c.coordinator.write(c.shardId, changes) });
      const pending: ExtendedSequenceNumber | undefined =
        lease.pendingCheckpoint !== undefined ? { sequenceNumber: lease.pendingCheckpoint, subSequenceNumber: lease.pendingCheckpointSubSequenceNumber ?? 0 } : undefined;
      const initialized = await this.#task('initialize', () => c.processor.initialize?.({ shardId: c.shardId, checkpoint: start, ...(pending ? { pendingCheckpoint: pending } : {}) }));
      if (!initialized) return;
      finished = await this.#process(lease, checkpointer);
    } catch (e) {
      c.onEvent({ type: 'error', operation: 'shardConsumer', shardId: c.shardId, error: asError(e) });
      this.#stop ??= 'requested';
    } finally {
      this.#abort.abort();
      await this.#shutDown(checkpointer, finished);
    }
  }

  /** Runs a processor callback; a throw is reported and retried after a pause unless stopping. */
  async #task(operation: string, fn: () => void | Promise<void>): Promise<boolean> {
    for (;;) {
      if (this.#stop) return false;
      try {
        await fn();
        return true;
      } catch (e) {
        this.#c.onEvent({ type: 'error', operation, shardId: this.#c.shardId, error: asError(e) });
        if (e instanceof ConsumerError && e.code === ConsumerErrorCode.LEASE_LOST) this.#stop ??= 'lost';
        await sleep(this.#c.taskBackoffMs, this.#abort.signal);
      }
    }
  }

  /** Reads until the shard ends (true) or a stop. */
  async #process(lease: Lease, checkpointer: ShardCheckpointer): Promise<boolean> {
    const c = this.#c;
    const { position, after } = startingPosition(lease, c.initialPosition);
    let skipUpTo = after;
    const range =
      lease.startingHashKey !== undefined && lease.endingHashKey !== undefined ? { start: BigInt(lease.startingHashKey), end: BigInt(lease.endingHashKey) } : undefined;
    for await (const batch of c.fetcher.batches(position, this.#abort.signal)) {
      if (this.#stop) return false;
      const records = userRecords(batch.records, range, skipUpTo);
      if (records.length > 0) skipUpTo = undefined;
      if (records.length > 0 || c.callProcessRecordsEvenForEmptyRecordList) {
        if (!c.coordinator.isOwner(c.shardId)) {
          this.#stop ??= 'lost';
          return false;
        }
        const last = records[records.length - 1];
        const ok = await this.#task('processRecords', () => {
          // Only records actually handed over may be checkpointed (a stop skips the batch).
          if (last) checkpointer.delivered({ sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber });
          return c.processor.processRecords({ shardId: c.shardId, records, checkpointer, millisBehindLatest: batch.millisBehindLatest });
        });
        if (!ok) return false;
      }
      if (batch.childShards !== undefined) return this.#endShard(batch.childShards, checkpointer);
      if (this.#stop) return false;
    }
    return false;
  }

  async #endShard(fromRead: NonNullable<Parameters<typeof createChildLeases>[1]>, checkpointer: ShardCheckpointer): Promise<boolean> {
    const c = this.#c;
    let children = [...fromRead];
    // Child leases exist before SHARD_END is stored, so a crash in between only repeats this.
    for (;;) {
      if (this.#stop) return false;
      try {
        if (children.length === 0) children = await childrenFromListing(c.client, c.stream, c.shardId);
        const created = await createChildLeases(c.store, children);
        if (created.length > 0) c.onEvent({ type: 'leasesCreated', shardIds: created });
        break;
      } catch (e) {
        c.onEvent({ type: 'error', operation: 'createChildLeases', shardId: c.shardId, error: asError(e) });
        await sleep(c.taskBackoffMs, this.#abort.signal);
      }
    }
    const childShardIds = children.map((x) => x.ShardId).filter((x): x is string => typeof x === 'string');
    checkpointer.shardEnded(childShardIds);
    for (;;) {
      const ok = await this.#task('shardEnded', () => c.processor.shardEnded({ shardId: c.shardId, checkpointer, childShardIds }));
      if (!ok) return false;
      if (checkpointer.lastCheckpoint.sequenceNumber === Sentinel.SHARD_END) {
        c.onEvent({ type: 'shardEnded', shardId: c.shardId, childShardIds });
        return true;
      }
      // The KCL refuses to finish a shard the application did not checkpoint at its end (3.4).
      c.onEvent({
        type: 'error',
        operation: 'shardEnded',
        shardId: c.shardId,
        error: new ConsumerError(ConsumerErrorCode.INVALID_CHECKPOINT, `shardEnded returned without checkpointing ${c.shardId}; its children wait until it does`),
      });
      await sleep(c.taskBackoffMs, this.#abort.signal);
    }
  }

  /** New owner of a stolen lease: wait until the previous owner clears checkpointOwner, or time out. */
  async #awaitHandover(): Promise<Lease | undefined> {
    const c = this.#c;
    const deadline = monotonicMs() + c.handoffTimeoutMs;
    for (;;) {
      if (this.#stop) return undefined;
      try {
        const l = await c.coordinator.refresh(c.shardId);
        if (!l || l.leaseOwner !== c.workerId) return undefined;
        if (l.checkpointOwner === undefined || l.checkpointOwner === c.workerId) return l;
        if (monotonicMs() >= deadline) return await c.coordinator.write(c.shardId, { checkpointOwner: null });
      } catch (e) {
        c.onEvent({ type: 'error', operation: 'awaitHandover', shardId: c.shardId, error: asError(e) });
        if (e instanceof ConsumerError && e.code === ConsumerErrorCode.LEASE_LOST) return undefined;
      }
      await sleep(c.handoffPollMs, this.#abort.signal);
    }
  }

  async #shutDown(checkpointer: ShardCheckpointer | undefined, finished: boolean): Promise<void> {
    const c = this.#c;
    if (finished) {
      c.coordinator.finish(c.shardId);
      return;
    }
    const reason = this.#stop ?? 'requested';
    if (reason === 'lost') {
      if (checkpointer) await this.#once('leaseLost', () => c.processor.leaseLost?.({ shardId: c.shardId }));
      return;
    }
    if (checkpointer) await this.#once('shutdownRequested', () => c.processor.shutdownRequested?.({ shardId: c.shardId, checkpointer }));
    await c.coordinator.release(c.shardId);
  }

  async #once(operation: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.#c.onEvent({ type: 'error', operation, shardId: this.#c.shardId, error: asError(e) });
    }
  }
}

/**
 * Where to read from for a checkpoint. A sequence-number checkpoint resumes AT that record and
 * skips sub-records up to the checkpointed one, so reading goes on after the checkpointed
 * sub-record of an aggregate (the KCL's way, checklist 2.3, 3.4).
 */
export function startingPosition(lease: Lease, initial: InitialPosition): { position: StartingPosition; after: ExtendedSequenceNumber | undefined } {
  const cp = lease.checkpoint;
  if (isSequenceNumber(cp)) {
    return { position: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: cp }, after: checkpointOf(lease) };
  }
  if (cp === Sentinel.LATEST) return { position: { type: 'LATEST' }, after: undefined };
  if (cp === Sentinel.AT_TIMESTAMP && typeof initial === 'object') return { position: { type: 'AT_TIMESTAMP', timestamp: initial.timestamp }, after: undefined };
  return { position: { type: 'TRIM_HORIZON' }, after: undefined };
}
