/**
 * What every destination's deliver function takes besides the configuration and the records,
 * and the retry loop they share.
 *
 * A deliver function owns its destination's retries: it keeps trying for
 * RetryOptions.DurationInSeconds (or `meta.retryDurationMs`) and only then rejects with the last
 * DeliveryError, which the caller routes to the error output. Back-off follows the HTTP endpoint
 * contract (initial 1 s, doubling, ±15% jitter, at most 2 minutes; AWS "HTTP endpoint delivery
 * request and response specifications"); Redshift waits up to 5 minutes between COPY attempts.
 */
import { DeliveryError } from './errors.js';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export interface DeliveryMeta {
  deliveryStreamArn: string;
  deliveryStreamName: string;
  /** Stable across retries of one batch (X-Amz-Firehose-Request-Id, document ids). */
  requestId: string;
  /** When the batch was formed (epoch ms): the HTTP request's `timestamp`, index rotation's default time. */
  timestampMs: number;
  region?: string | undefined;
  /** Overrides the configuration's RetryOptions.DurationInSeconds. */
  retryDurationMs?: number | undefined;
  /** Stops waiting between attempts (server shutdown); the delivery rejects with the abort reason. */
  signal?: AbortSignal | undefined;
  /** Time and sleeping, for tests. */
  clock?: Clock | undefined;
  /** Per-record arrival times (epoch ms), for OpenSearch index rotation; default `timestampMs`. */
  arrivalTimestamps?: readonly number[] | undefined;
  /** Per-record document ids for OpenSearch with FIREHOSE_DEFAULT ids; default `<requestId>-<n>`. */
  documentIds?: readonly string[] | undefined;
  /** Per-request response timeout (default: the destination's, e.g. 3 minutes for HTTP endpoints). */
  timeoutMs?: number | undefined;
}

/** RetryOptions.DurationInSeconds defaults (checklist 4.4): 3600 s for Splunk and Redshift, 300 s otherwise. */
export function retryDurationMs(config: { RetryOptions?: unknown }, meta: DeliveryMeta, defaultSeconds: number): number {
  if (meta.retryDurationMs !== undefined) return Math.max(0, meta.retryDurationMs);
  const s = (config.RetryOptions as { DurationInSeconds?: unknown } | undefined)?.DurationInSeconds;
  return (typeof s === 'number' && s >= 0 ? s : defaultSeconds) * 1000;
}

export function backoffMs(retry: number, capMs: number, random: () => number = Math.random): number {
  const base = Math.min(capMs, 1000 * 2 ** retry);
  return Math.round(base * (0.85 + 0.3 * random()));
}

/**
 * Runs `attempt` until it resolves, fails with a DeliveryError that is not retryable, or the
 * retry duration has passed; the last error carries `attemptsMade`.
 */
export async function withRetries<T>(
  meta: DeliveryMeta,
  durationMs: number,
  attempt: (n: number) => Promise<T>,
  capMs = 120_000,
): Promise<T> {
  const clock = meta.clock ?? systemClock;
  const start = clock.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (!(e instanceof DeliveryError)) throw e;
      e.attemptsMade = n;
      const wait = backoffMs(n - 1, capMs);
      if (!e.retryable || clock.now() + wait - start >= durationMs || meta.signal?.aborted) throw e;
      await clock.sleep(wait, meta.signal);
    }
  }
}

/** Reads a configuration member that must be a non-empty string. */
export function requiredString(config: Readonly<Record<string, unknown>>, path: string, code: string): string {
  let v: unknown = config;
  for (const p of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[p];
  if (typeof v !== 'string' || v === '') throw new DeliveryError(code, `the destination configuration has no ${path}`, false);
  return v;
}
