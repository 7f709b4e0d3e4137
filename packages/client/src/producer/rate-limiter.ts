/**
 * Per-shard shaping as the KPL does it (RateLimit, checklist 2.2): two token buckets per shard,
 * bytes and records, each refilled at `percent`% of the shard's write limit (checklist 1.6) and
 * holding at most one second of it.
 */
const BYTES_PER_SEC = 1024 * 1024;
const RECORDS_PER_SEC = 1000;

class Bucket {
  tokens: number;
  at: number;
  constructor(
    readonly rate: number,
    now: number,
  ) {
    this.tokens = rate;
    this.at = now;
  }
  refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
  }
  /** ms until n tokens are there (0 = now). */
  waitFor(n: number): number {
    const need = Math.min(n, this.rate) - this.tokens;
    return need <= 0 ? 0 : Math.ceil((need / this.rate) * 1000);
  }
}

export class ShardRateLimiter {
  readonly enabled: boolean;
  #bytes = new Map<string, Bucket>();
  #records = new Map<string, Bucket>();
  constructor(readonly percent: number) {
    this.enabled = Number.isFinite(percent);
  }

  #buckets(shardId: string, now: number): [Bucket, Bucket] {
    let b = this.#bytes.get(shardId);
    let r = this.#records.get(shardId);
    if (!b || !r) {
      b = new Bucket((BYTES_PER_SEC * this.percent) / 100, now);
      r = new Bucket((RECORDS_PER_SEC * this.percent) / 100, now);
      this.#bytes.set(shardId, b);
      this.#records.set(shardId, r);
    }
    b.refill(now);
    r.refill(now);
    return [b, r];
  }

  /**
   * Takes the tokens for one record of `bytes` if there are enough; returns 0 then, else the ms
   * to wait. A record bigger than a bucket goes once the bucket is full.
   */
  tryTake(shardId: string, bytes: number, now: number): number {
    if (!this.enabled) return 0;
    const [b, r] = this.#buckets(shardId, now);
    const wait = Math.max(b.waitFor(bytes), r.waitFor(1));
    if (wait > 0) return wait;
    b.tokens -= bytes;
    r.tokens -= 1;
    return 0;
  }

  /** Forgets shards that are no longer open. */
  retain(open: ReadonlySet<string>): void {
    for (const id of this.#bytes.keys()) {
      if (!open.has(id)) {
        this.#bytes.delete(id);
        this.#records.delete(id);
      }
    }
  }
}
