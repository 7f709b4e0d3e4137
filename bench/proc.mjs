// What a benchmark reads about a process and its threads from Linux's /proc: CPU time and
// resident memory.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** utime + stime of a process, in seconds (clock ticks at 100 Hz). */
export function cpuSeconds(pid) {
  return statSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** Resident memory of a process in MiB: total, anonymous, file-backed. */
export function rssMiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

/** CPU seconds (utime + stime) from the text of a /proc stat file. */
function statSeconds(stat) {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The calling thread's Linux thread id, or undefined where there is no /proc. */
export function threadId() {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

/** CPU seconds of the calling thread, or undefined where there is no /proc. */
export function threadCpuSeconds() {
  try {
    return statSeconds(readFileSync('/proc/thread-self/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU seconds of every thread of this process, by thread id (empty where there is no /proc). */
export function threadsCpuSeconds() {
  const out = new Map();
  try {
    for (const t of readdirSync('/proc/self/task')) out.set(Number(t), statSeconds(readFileSync(`/proc/self/task/${t}/stat`, 'utf8')));
  } catch {
    // Not Linux: no per-thread figures.
  }
  return out;
}

/** The machine's CPU time counters (/proc/stat, all CPUs), for machineShare. */
export function machineCpu() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { user: f[0] + f[1], system: f[2] + f[5] + f[6], idle: f[3] + f[4], steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * How the machine's CPUs spent the time between two machineCpu snapshots, in percent: user,
 * system (with interrupts), idle (with I/O wait) and steal (taken by the hypervisor: on a busy
 * host it can make a run slow for reasons outside it).
 */
export function machineShare(a, b) {
  if (a === undefined || b === undefined) return undefined;
  const d = Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));
  const total = Object.values(d).reduce((x, y) => x + y, 0) || 1;
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Math.round((100 * v) / total)]));
}
