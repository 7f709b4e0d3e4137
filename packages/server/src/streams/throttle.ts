/**
 * Token buckets for AWS's per-shard limits (checklist 1.6). A bucket refills continuously at
 * `rate` per second up to `burst`; `take` may drive it negative (a large GetRecords answer is
 * charged after the fact, so the following calls wait until the debt is repaid, as AWS does).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
      this.#at = now;
    }
  }

  /** Takes n tokens if they are all there; false (and nothing taken) otherwise. */
  tryTake(n: number, now: number): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** True when the bucket is not in debt. */
  available(now: number): boolean {
    this.#refill(now);
    return this.#tokens > 0;
  }

  /** Takes n tokens unconditionally (may go into debt). */
  charge(n: number, now: number): void {
    this.#refill(now);
    this.#tokens -= n;
  }

  /**
   * Charges work larger than the burst in full: the bucket is emptied and n owed, so the next
   * tokens come n / rate seconds from now (a 10 MiB GetRecords answer at 2 MiB/s: 5 s, as AWS says).
   */
  chargeInFull(n: number, now: number): void {
    this.#refill(now);
    this.#tokens = Math.min(this.#tokens, 0) - n;
  }

  /** Gives back tokens taken for work that did not happen. */
  refund(n: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + n);
  }
}

export const MiB = 1024 * 1024;

/** AWS's per-shard limits. */
export const ShardLimits = {
  writeBytesPerSec: MiB,
  writeRecordsPerSec: 1000,
  readBytesPerSec: 2 * MiB,
  readCallsPerSec: 5,
  getShardIteratorPerSec: 5,
  /** A GetRecords answer may carry 10 MiB; the 2 MiB/s budget is then repaid over 5 s. */
  maxGetRecordsBytes: 10 * MiB,
  maxGetRecordsRecords: 10_000,
} as const;
