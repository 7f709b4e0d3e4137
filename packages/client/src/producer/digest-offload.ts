// The MD5 trailer of aggregated records, computed on a helper thread. At 100-byte records it is
// the largest single cost left on the producer's thread (~0.35 µs per user record, node:crypto
// at ~450 MB/s here; bench/producer.mjs), and it is not needed until the PutRecords body is
// written, usually milliseconds later.
//
// Containers are carved out of SharedArrayBuffer chunks, each followed by a completion flag. The
// helper (one per process, unref'd, shared by every producer) writes the digest and sets the flag.
// Whoever needs the bytes calls completeDigest(): if the flag is not set yet, the digest is
// computed right there. Both sides then write the same 16 bytes, so the race is harmless, and
// nothing ever waits for the helper: if it is slow, busy or gone, the producer works as without
// it. A container is never reused (a chunk is freed by the GC once none of its containers is
// referenced), so the helper can never write into bytes that mean something else by then.
import { Worker } from 'node:worker_threads';
import { writeDigest } from '../aggregation/index.js';

// Messages are flat arrays of (chunk, offset, size) triples.
const HELPER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (jobs) => {
  for (let i = 0; i < jobs.length; i += 3) {
    const sab = jobs[i];
    const off = jobs[i + 1];
    const size = jobs[i + 2];
    const flag = new Int32Array(sab, off + ((size + 3) & ~3), 1);
    if (Atomics.load(flag, 0) === 1) continue;
    const bytes = new Uint8Array(sab, off, size);
    bytes.set(createHash('md5').update(bytes.subarray(4, size - 16)).digest(), size - 16);
    Atomics.store(flag, 0, 1);
  }
});
`;

let helper: Worker | undefined;
let helperFailed = false;

function getHelper(): Worker | undefined {
  if (helper || helperFailed) return helper;
  try {
    const w = new Worker(HELPER, { eval: true, stdout: false, stderr: false });
    w.unref();
    const gone = (): void => {
      if (helper === w) helper = undefined;
      helperFailed = true;
    };
    w.on('error', gone);
    w.on('exit', gone);
    helper = w;
  } catch {
    helperFailed = true;
  }
  return helper;
}

// A SharedArrayBuffer costs ~30 µs to allocate here (zeroed, registered), a quarter of an
// aggregate's MD5: containers share 1 MiB chunks.
const CHUNK = 1 << 20;
let chunk = new SharedArrayBuffer(0);
let chunkUsed = 0;

/** Layout: container bytes, padding to 4, the completion flag (int32). */
function alloc(size: number): Buffer {
  const need = ((size + 3) & ~3) + 4;
  if (chunkUsed + need > chunk.byteLength) {
    chunk = new SharedArrayBuffer(Math.max(CHUNK, need));
    chunkUsed = 0;
  }
  const b = Buffer.from(chunk, chunkUsed, size);
  chunkUsed += need;
  return b;
}

/** For Aggregator.serialize(deferred): containers whose digest is filled later. */
export const deferredDigest = { alloc };

// Containers sealed in one synchronous run go in one message (a postMessage costs several µs).
let queued: (SharedArrayBuffer | number)[] = [];

function post(): void {
  const jobs = queued;
  queued = [];
  const w = getHelper();
  if (!w) return; // completeDigest() computes them.
  try {
    w.postMessage(jobs);
  } catch {
    // Likewise.
  }
}

/**
 * Hands a container from `deferredDigest.alloc` to the helper; false without one (then call
 * completeDigest()). Either way completeDigest() must run before the bytes are read.
 */
export function submitDigest(container: Buffer): boolean {
  if (!getHelper()) return false;
  if (queued.length === 0) queueMicrotask(post);
  queued.push(container.buffer as SharedArrayBuffer, container.byteOffset, container.length);
  return true;
}

/** Makes sure the container's digest is written (by the helper, or now). */
export function completeDigest(container: Buffer): void {
  const sab = container.buffer;
  if (!(sab instanceof SharedArrayBuffer)) return;
  const flag = new Int32Array(sab, container.byteOffset + ((container.length + 3) & ~3), 1);
  if (Atomics.load(flag, 0) === 1) return;
  writeDigest(container);
  Atomics.store(flag, 0, 1);
}
