import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Aggregator, deaggregate } from '../../src/aggregation/index.js';
import { completeDigest, deferredDigest, submitDigest } from '../../src/producer/digest-offload.js';

function filled(n: number, tag: string): Aggregator {
  const a = new Aggregator({ maxBytes: 1 << 20 });
  for (let i = 0; i < n; i++) a.add({ partitionKey: `${tag}-${i % 13}`, data: Buffer.from(`${tag}/${i}/${'x'.repeat(i % 50)}`) });
  return a;
}

const flagOf = (b: Buffer): Int32Array => new Int32Array(b.buffer, b.byteOffset + ((b.length + 3) & ~3), 1);

test('the helper thread writes the same trailer as node:crypto does here', async () => {
  const containers: { got: Buffer; want: Buffer }[] = [];
  for (let k = 0; k < 20; k++) {
    const a = filled(1 + k * 7, `t${k}`);
    const want = a.serialize();
    const got = a.serialize(deferredDigest);
    assert.ok(submitDigest(got), 'a helper thread is available');
    containers.push({ got, want });
  }
  // The helper sets each flag once its digest is in place; wait for all (no time limit asserted).
  for (const { got } of containers) {
    while (Atomics.load(flagOf(got), 0) !== 1) await new Promise((r) => setTimeout(r, 5));
  }
  for (const { got, want } of containers) {
    assert.deepEqual(got, want);
    completeDigest(got); // Already complete: leaves it as it is.
    assert.deepEqual(got, want);
  }
});

test('completeDigest does the work itself when the helper has not (yet)', () => {
  for (let k = 0; k < 10; k++) {
    const a = filled(50 + k, `c${k}`);
    const want = a.serialize();
    const got = a.serialize(deferredDigest);
    // Not submitted: only completeDigest can fill it.
    completeDigest(got);
    assert.deepEqual(got, want);
    assert.equal(deaggregate({ data: got, partitionKey: 'a' }).length, 50 + k);
    // Submitted after completion: the helper sees the flag and leaves it.
    submitDigest(got);
    assert.deepEqual(got, want);
  }
});

test('completeDigest ignores ordinary buffers (records sent raw)', () => {
  const b = Buffer.from('plain record');
  completeDigest(b);
  assert.equal(b.toString(), 'plain record');
});
