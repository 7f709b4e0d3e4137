import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds: lease expiry is judged on this worker's clock only (checklist 3.3). */
export function monotonicMs(): number {
  return performance.now();
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential back-off with full jitter. */
export class Backoff {
  #attempt = 0;
  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
  ) {}
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.#attempt, 20));
    this.#attempt++;
    return this.baseMs / 2 + Math.random() * cap;
  }
  reset(): void {
    this.#attempt = 0;
  }
}

/** Runs tasks one after another (per-lease writes must not race each other). */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const p = this.#tail.then(task, task);
    this.#tail = p.catch(() => undefined);
    return p;
  }
}

/** SDK call options carrying `signal` when there is one. */
export function callOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}
