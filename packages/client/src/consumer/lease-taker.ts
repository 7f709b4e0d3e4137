// Which leases to take or steal on one scan of the lease table: KCL 2.x DynamoDBLeaseTaker
// (checklist 3.3), as a pure function so that its arithmetic is tested on its own.
import type { Lease } from './lease.js';

export interface TakerInput {
  /** Unfinished leases (SHARD_END ones are done and neither counted nor taken). */
  leases: readonly Lease[];
  workerId: string;
  /** Keys this worker holds now. */
  held: ReadonlySet<string>;
  /** Leases whose owner is presumed dead: not renewed for the expiry time, as seen by our scans. */
  expired: ReadonlySet<string>;
  /** Leases not renewed for very long (3 × the lease duration): taken first, ignoring the target. */
  veryOld: ReadonlySet<string>;
  maxLeasesForWorker: number;
  maxLeasesToStealAtOneTime: number;
  random?: () => number;
}

export interface TakerPlan {
  /** Unowned or expired leases to take. */
  take: Lease[];
  /** Leases of a live, over-loaded worker to steal (handed over gracefully). */
  steal: Lease[];
  /** For metrics and tests. */
  target: number;
  workers: number;
}

function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

export function planTakes(input: TakerInput): TakerPlan {
  const random = input.random ?? Math.random;
  const me = input.workerId;
  const isAvailable = (l: Lease) => l.leaseOwner === undefined || input.expired.has(l.leaseKey) || (l.leaseOwner === me && !input.held.has(l.leaseKey));
  const mine = input.leases.filter((l) => input.held.has(l.leaseKey)).length;
  const available = input.leases.filter((l) => !input.held.has(l.leaseKey) && isAvailable(l));

  // Workers: owners of live leases, and us.
  const loads = new Map<string, Lease[]>();
  for (const l of input.leases) {
    if (l.leaseOwner === undefined || l.leaseOwner === me || isAvailable(l)) continue;
    const list = loads.get(l.leaseOwner) ?? [];
    list.push(l);
    loads.set(l.leaseOwner, list);
  }
  const workers = loads.size + 1;
  const n = input.leases.length;
  let target = workers >= n ? 1 : Math.ceil(n / workers);
  target = Math.min(target, input.maxLeasesForWorker);
  const plan: TakerPlan = { take: [], steal: [], target, workers };
  if (n === 0) return plan;

  const veryOld = available.filter((l) => input.veryOld.has(l.leaseKey));
  if (veryOld.length > 0) {
    // Priority: long-dead leases are taken whatever the target (KCL enablePriorityLeaseAssignment).
    const room = input.maxLeasesForWorker - mine;
    plan.take = shuffle(veryOld, random).slice(0, Math.max(0, room));
    return plan;
  }
  const needed = target - mine;
  if (needed <= 0) return plan;
  if (available.length > 0) {
    plan.take = shuffle(available, random).slice(0, needed);
    return plan;
  }
  // Nothing free: steal from the most loaded worker, one at a time by default.
  let most: [string, Lease[]] | undefined;
  for (const e of loads) if (!most || e[1].length > most[1].length) most = e;
  if (!most) return plan;
  const load = most[1].length;
  if (load >= target + (needed > 1 ? 0 : 1)) {
    let count = Math.min(needed, load - target);
    if (needed > 1 && count === 0) count = 1;
    count = Math.min(count, input.maxLeasesToStealAtOneTime);
    // Not a lease already being handed over: that would bounce it between workers.
    const candidates = most[1].filter((l) => l.checkpointOwner === undefined);
    plan.steal = shuffle(candidates, random).slice(0, count);
  }
  return plan;
}
