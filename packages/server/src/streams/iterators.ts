import { errors } from '../core/errors.js';
import type { StreamsService } from './service.js';

/** Iterators are valid for 5 minutes after they are issued (checklist 1.4). */
export const ITERATOR_TTL_MS = 300_000;

export interface IteratorState {
  readonly streamId: number;
  readonly shardIndex: number;
  /** Next position to read. */
  readonly position: bigint;
  readonly issuedMs: number;
}

export function issueIterator(svc: StreamsService, it: Omit<IteratorState, 'issuedMs'>): string {
  return svc.tokens.seal({ k: 'it', s: it.streamId, i: it.shardIndex, p: it.position.toString(), t: svc.clock.now() });
}

export function openIterator(svc: StreamsService, token: string): IteratorState {
  const v = svc.tokens.open(token) as { k?: unknown; s?: unknown; i?: unknown; p?: unknown; t?: unknown } | undefined;
  if (!v || v.k !== 'it' || typeof v.s !== 'number' || typeof v.i !== 'number' || typeof v.p !== 'string' || typeof v.t !== 'number') {
    throw errors.InvalidArgumentException('Invalid ShardIterator.');
  }
  const now = svc.clock.now();
  if (now - v.t > ITERATOR_TTL_MS) {
    throw errors.ExpiredIteratorException(
      `Iterator expired. The iterator was created at time ${javaDate(v.t)} while right now it is ${javaDate(now)} which is further in the future than the tolerated delay of ${ITERATOR_TTL_MS} milliseconds.`,
    );
  }
  return { streamId: v.s, shardIndex: v.i, position: BigInt(v.p), issuedMs: v.t };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Java's Date.toString() in UTC, as AWS prints times in this message: `Thu Jan 22 01:22:02 UTC 2015`. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}
