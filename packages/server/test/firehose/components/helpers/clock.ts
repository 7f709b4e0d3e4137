/** A clock for the retry loops whose sleeps return at once and move time forward. */
import type { Clock } from '../../../../src/firehose/destinations/retry.js';

export interface FakeClock extends Clock {
  readonly sleeps: number[];
}

export function fakeClock(start = 1_800_000_000_000): FakeClock {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}
