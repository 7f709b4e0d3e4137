// Renewing, taking and stealing leases (checklist 3.3), and every write a lease holder makes, one
// at a time per lease and conditional on the lease counter this worker last wrote.
import { asError, ConsumerError, ConsumerErrorCode, leaseLost } from './errors.js';
import { type Lease, type LeaseChanges, type LeaseStore, Sentinel } from './lease.js';
import { planTakes } from './lease-taker.js';
import type { ConsumerEvent } from './types.js';
import { monotonicMs, SerialQueue, sleep } from './util.js';

export interface CoordinatorOptions {
  workerId: string;
  failoverTimeMs: number;
  expiryMs: number;
  renewIntervalMs: number;
  takeIntervalMs: number;
  maxLeasesForWorker: number;
  maxLeasesToStealAtOneTime: number;
  onEvent: (e: ConsumerEvent) => void;
}

export interface CoordinatorHooks {
  /** A lease was taken (or stolen): start its shard. */
  taken(lease: Lease): void;
  /** A held lease is gone: `handoff` = stolen gracefully (finish the batch, checkpoint, release); `lost` = stop now. */
  lost(leaseKey: string, how: 'lost' | 'handoff'): void;
}

type Mode = 'owner' | 'handoff' | 'lost';

interface Held {
  lease: Lease;
  /** When the last successful write was sent (monotonic): others cannot take before this + expiry. */
  writtenAt: number;
  mode: Mode;
  queue: SerialQueue;
}

export class LeaseCoordinator {
  readonly #store: LeaseStore;
  readonly #o: CoordinatorOptions;
  readonly #hooks: CoordinatorHooks;
  readonly #held = new Map<string, Held>();
  /** Per lease: the counter last seen in a scan and when it was first seen (monotonic). */
  readonly #seen = new Map<string, { counter: number; at: number }>();
  #taking = false;
  #renewing = false;
  readonly #stopTake = new AbortController();
  readonly #stopRenew = new AbortController();
  #loops: Promise<void>[] = [];

  constructor(store: LeaseStore, options: CoordinatorOptions, hooks: CoordinatorHooks) {
    this.#store = store;
    this.#o = options;
    this.#hooks = hooks;
  }

  start(): void {
    this.#taking = true;
    this.#renewing = true;
    this.#loops.push(this.#loop(this.#o.takeIntervalMs, () => this.takePass(), this.#stopTake.signal, 'takeLeases'));
    this.#loops.push(this.#loop(this.#o.renewIntervalMs, () => this.renewPass(), this.#stopRenew.signal, 'renewLeases'));
  }

  /** No more taking; held leases stay renewed until close(). */
  stopTaking(): void {
    this.#taking = false;
    this.#stopTake.abort();
  }

  async close(): Promise<void> {
    this.stopTaking();
    this.#renewing = false;
    this.#stopRenew.abort();
    await Promise.all(this.#loops);
  }

  async #loop(intervalMs: number, pass: () => Promise<void>, signal: AbortSignal, operation: string): Promise<void> {
    while (!signal.aborted) {
      try {
        await pass();
      } catch (e) {
        this.#o.onEvent({ type: 'error', operation, shardId: undefined, error: asError(e) });
      }
      await sleep(intervalMs, signal);
    }
  }

  heldKeys(): string[] {
    return [...this.#held].filter(([, h]) => h.mode === 'owner').map(([k]) => k);
  }

  /** The lease as this worker last wrote or read it. */
  lease(key: string): Lease | undefined {
    return this.#held.get(key)?.lease;
  }

  /** Whether this worker may still act as the owner: held, and not possibly expired in others' eyes. */
  isOwner(key: string): boolean {
    const h = this.#held.get(key);
    if (!h || h.mode !== 'owner') return false;
    return monotonicMs() - h.writtenAt < this.#fenceMs();
  }

  #fenceMs(): number {
    return this.#o.expiryMs - this.#o.takeIntervalMs;
  }

  async renewPass(): Promise<void> {
    if (!this.#renewing) return;
    await Promise.all(
      [...this.#held].map(([key, h]) =>
        h.mode !== 'owner'
          ? undefined
          : h.queue.run(async () => {
              if (h.mode !== 'owner' || this.#held.get(key) !== h) return;
              const sentAt = monotonicMs();
              try {
                const r = await this.#store.update(key, { leaseCounter: h.lease.leaseCounter }, {});
                if (r) {
                  h.lease = r;
                  h.writtenAt = sentAt;
                } else await this.#classify(key, h);
              } catch (e) {
                this.#o.onEvent({ type: 'error', operation: 'renewLease', shardId: key, error: asError(e) });
                if (monotonicMs() - h.writtenAt >= this.#fenceMs()) this.#markLost(key, h);
              }
            }),
      ),
    );
  }

  /**
   * A conditional write failed: find out why. Our own owner field with another counter means a
   * write of ours whose answer was lost; a checkpointOwner of ours means a graceful steal.
   */
  async #classify(key: string, h: Held): Promise<'adopted' | 'handoff' | 'lost'> {
    let l: Lease | undefined;
    try {
      l = await this.#store.get(key);
    } catch (e) {
      this.#o.onEvent({ type: 'error', operation: 'getLease', shardId: key, error: asError(e) });
      if (monotonicMs() - h.writtenAt >= this.#fenceMs()) {
        this.#markLost(key, h);
        return 'lost';
      }
      return 'adopted';
    }
    if (l && l.leaseOwner === this.#o.workerId && l.checkpoint !== Sentinel.SHARD_END) {
      h.lease = l;
      return 'adopted';
    }
    if (l && l.checkpointOwner === this.#o.workerId) {
      h.lease = l;
      if (h.mode === 'owner') {
        h.mode = 'handoff';
        this.#o.onEvent({ type: 'leaseHandedOver', shardId: key, to: l.leaseOwner });
        this.#hooks.lost(key, 'handoff');
      }
      return 'handoff';
    }
    this.#markLost(key, h);
    return 'lost';
  }

  #markLost(key: string, h: Held): void {
    if (h.mode === 'lost') return;
    h.mode = 'lost';
    this.#held.delete(key);
    this.#o.onEvent({ type: 'leaseLost', shardId: key });
    this.#hooks.lost(key, 'lost');
  }

  /**
   * A write by the holder (checkpoint): conditional on the counter, or during a hand-over on
   * `checkpointOwner` without touching the counter the new owner renews. Rejects with LEASE_LOST.
   */
  write(key: string, changes: LeaseChanges): Promise<Lease> {
    const h = this.#held.get(key);
    if (!h) return Promise.reject(leaseLost(key));
    return h.queue.run(async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (h.mode === 'owner') {
          if (monotonicMs() - h.writtenAt >= this.#fenceMs()) {
            this.#markLost(key, h);
            throw leaseLost(key);
          }
          const sentAt = monotonicMs();
          const r = await this.#store.update(key, { leaseCounter: h.lease.leaseCounter }, changes);
          if (r) {
            h.lease = r;
            h.writtenAt = sentAt;
            return r;
          }
          const why = await this.#classify(key, h);
          if (why === 'lost') throw leaseLost(key);
          continue;
        }
        if (h.mode === 'handoff') {
          const r = await this.#store.update(key, { checkpointOwner: this.#o.workerId }, changes, { bumpCounter: false });
          if (r) {
            h.lease = r;
            return r;
          }
          this.#markLost(key, h);
        }
        throw leaseLost(key);
      }
      throw leaseLost(key);
    });
  }

  /** Reads the lease afresh (a new owner waiting for a hand-over). */
  async refresh(key: string): Promise<Lease | undefined> {
    const h = this.#held.get(key);
    if (!h) return undefined;
    const l = await this.#store.get(key);
    if (l && l.leaseOwner === this.#o.workerId && l.leaseCounter >= h.lease.leaseCounter) h.lease = l;
    return l;
  }

  /**
   * Lets go of a lease: an owner evicts itself (owner removed, so others take it on their next
   * scan); a worker handing over clears checkpointOwner so the new owner starts.
   */
  release(key: string): Promise<void> {
    const h = this.#held.get(key);
    if (!h) return Promise.resolve();
    return h.queue.run(async () => {
      try {
        if (h.mode === 'owner') {
          // checkpointOwner stays: a previous owner handing over may still write its checkpoint.
          await this.#store.update(key, { leaseCounter: h.lease.leaseCounter }, { leaseOwner: null });
        } else if (h.mode === 'handoff') {
          await this.#store.update(key, { checkpointOwner: this.#o.workerId }, { checkpointOwner: null }, { bumpCounter: false });
        }
        this.#o.onEvent({ type: 'leaseReleased', shardId: key });
      } catch (e) {
        // The lease then expires in the failover time.
        this.#o.onEvent({ type: 'error', operation: 'releaseLease', shardId: key, error: asError(e) });
      } finally {
        if (this.#held.get(key) === h) this.#held.delete(key);
      }
    });
  }

  /** The shard is finished (SHARD_END stored): stop renewing; others ignore finished leases. */
  finish(key: string): void {
    this.#held.delete(key);
  }

  /** One scan: note counter changes, then take or steal per the plan. */
  async takePass(): Promise<void> {
    if (!this.#taking) return;
    const leases = await this.#store.list();
    const now = monotonicMs();
    const keys = new Set<string>();
    for (const l of leases) {
      keys.add(l.leaseKey);
      const s = this.#seen.get(l.leaseKey);
      if (!s || s.counter !== l.leaseCounter) this.#seen.set(l.leaseKey, { counter: l.leaseCounter, at: now });
    }
    for (const k of this.#seen.keys()) if (!keys.has(k)) this.#seen.delete(k);
    const me = this.#o.workerId;
    const unfinished = leases.filter((l) => l.checkpoint !== Sentinel.SHARD_END);
    const expired = new Set<string>();
    const veryOld = new Set<string>();
    for (const l of unfinished) {
      const age = now - (this.#seen.get(l.leaseKey)?.at ?? now);
      if (l.leaseOwner !== undefined && l.leaseOwner !== me && age > this.#o.expiryMs) expired.add(l.leaseKey);
      if ((l.leaseOwner === undefined || expired.has(l.leaseKey)) && age > 3 * this.#o.failoverTimeMs) veryOld.add(l.leaseKey);
      // A scan showing someone else owning a lease we hold: check now rather than at the next renewal.
      const h = this.#held.get(l.leaseKey);
      if (h && h.mode === 'owner' && l.leaseOwner !== me && l.leaseCounter > h.lease.leaseCounter) {
        void h.queue.run(() => (h.mode === 'owner' ? this.#classify(l.leaseKey, h) : Promise.resolve('lost')));
      }
    }
    if (!this.#taking) return;
    const plan = planTakes({
      leases: unfinished,
      workerId: me,
      held: new Set(this.heldKeys()),
      expired,
      veryOld,
      maxLeasesForWorker: this.#o.maxLeasesForWorker,
      maxLeasesToStealAtOneTime: this.#o.maxLeasesToStealAtOneTime,
    });
    for (const l of plan.take) await this.#take(l, false);
    for (const l of plan.steal) await this.#take(l, true);
  }

  async #take(l: Lease, steal: boolean): Promise<void> {
    // Still ours while we hand it over: not to be taken back before that is done.
    if (!this.#taking || this.#held.has(l.leaseKey)) return;
    const me = this.#o.workerId;
    const changes: LeaseChanges = {
      leaseOwner: me,
      // A steal is a hand-over: the old owner may write its last checkpoint, then clears this. A
      // hand-over still under way (the stealer let go before it finished) stays under way.
      checkpointOwner: steal && l.leaseOwner !== undefined ? l.leaseOwner : l.checkpointOwner !== undefined && l.checkpointOwner !== me ? l.checkpointOwner : null,
      ownerSwitchesSinceCheckpoint: l.leaseOwner === me ? l.ownerSwitchesSinceCheckpoint : l.ownerSwitchesSinceCheckpoint + 1,
    };
    const sentAt = monotonicMs();
    let r: Lease | undefined;
    try {
      r = await this.#store.update(l.leaseKey, { leaseCounter: l.leaseCounter }, changes);
    } catch (e) {
      this.#o.onEvent({ type: 'error', operation: 'takeLease', shardId: l.leaseKey, error: asError(e) });
      return;
    }
    if (!r) return; // Someone else was quicker.
    if (!this.#taking) {
      // Stopped meanwhile: give it back at once.
      await this.#store.update(l.leaseKey, { leaseCounter: r.leaseCounter }, { leaseOwner: null, checkpointOwner: null }).catch(() => undefined);
      return;
    }
    this.#held.set(l.leaseKey, { lease: r, writtenAt: sentAt, mode: 'owner', queue: new SerialQueue() });
    this.#o.onEvent({ type: 'leaseTaken', shardId: l.leaseKey, previousOwner: l.leaseOwner, stolen: steal });
    this.#hooks.taken(r);
  }
}

export function shutdownError(): ConsumerError {
  return new ConsumerError(ConsumerErrorCode.SHUTDOWN, 'the consumer is stopping');
}
