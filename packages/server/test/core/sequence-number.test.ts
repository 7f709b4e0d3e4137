import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SequenceEncoder, compareSequenceNumbers, decodeSequenceNumber, encodeSequenceNumber, shardStartingSequenceNumber } from '../../src/core/sequence-number.js';

const parts = fc.record({
  shardCreatedSec: fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }),
  shardIndex: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  position: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  arrivalSec: fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }),
});

describe('sequence numbers', () => {
  it('are 56-digit decimals, as AWS writes them', () => {
    fc.assert(
      fc.property(parts, (p) => {
        assert.match(encodeSequenceNumber(p), /^[1-9]\d{55}$/);
      }),
    );
    assert.equal(shardStartingSequenceNumber(1_700_000_000, 0).length, 56);
  });

  it('come out of the per-shard encoder exactly as encodeSequenceNumber writes them', () => {
    const small = fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) });
    fc.assert(
      fc.property(parts, fc.array(fc.tuple(fc.oneof(small, small, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), fc.integer({ min: 0, max: 2 ** 36 - 1 })), { minLength: 1, maxLength: 20 }), (p, calls) => {
        const enc = new SequenceEncoder(p.shardCreatedSec, p.shardIndex);
        for (const [position, arrivalSec] of [[p.position, p.arrivalSec] as const, ...calls]) {
          assert.equal(enc.encode(position, arrivalSec), encodeSequenceNumber({ ...p, position, arrivalSec }));
        }
      }),
    );
    const edge = new SequenceEncoder(2 ** 36 - 1, 2 ** 32 - 1);
    for (const position of [0n, 1n, 9_999_999n, 10_000_000n, 10n ** 14n - 1n, 10n ** 14n, BigInt(Number.MAX_SAFE_INTEGER)]) {
      assert.equal(edge.encode(position, 2 ** 36 - 1), encodeSequenceNumber({ shardCreatedSec: 2 ** 36 - 1, shardIndex: 2 ** 32 - 1, position, arrivalSec: 2 ** 36 - 1 }));
    }
  });

  it('come out of encodeAt and writeAt as encode writes them, from any first position and offset', () => {
    const first = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }), fc.bigInt({ min: 0n, max: 2n ** 64n - 2n ** 32n }));
    fc.assert(
      fc.property(parts, first, fc.oneof(fc.nat(600), fc.nat(2 ** 32 - 1)), fc.nat(64), (p, from, offset, at) => {
        const enc = new SequenceEncoder(p.shardCreatedSec, p.shardIndex);
        const want = encodeSequenceNumber({ ...p, position: from + BigInt(offset), arrivalSec: p.arrivalSec });
        assert.equal(enc.encodeAt(from, offset, p.arrivalSec), want);
        const buf = Buffer.alloc(at + 64, 0x2a);
        const end = enc.writeAt(from, offset, p.arrivalSec, new DataView(buf.buffer, buf.byteOffset, buf.length), at);
        assert.equal(buf.toString('latin1', at, end), want);
        assert.ok(buf.subarray(0, at).every((b) => b === 0x2a) && buf.subarray(end).every((b) => b === 0x2a), 'nothing written outside');
      }),
    );
  });

  it('come out of a run as encodeAt writes them, one position after another', () => {
    const first = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) - 2n ** 32n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 2n ** 32n }));
    fc.assert(
      fc.property(parts, first, fc.integer({ min: 1, max: 40 }), (p, from, n) => {
        const enc = new SequenceEncoder(p.shardCreatedSec, p.shardIndex);
        const run = enc.run(from, p.arrivalSec);
        const buf = Buffer.alloc(64);
        const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
        for (let k = 0; k < n; k++) {
          const end = run(view, 2);
          assert.equal(buf.toString('latin1', 2, end), enc.encodeAt(from, k, p.arrivalSec));
        }
      }),
    );
    // Carries through every limb: positions just below powers of ten.
    for (const from of [9_999n, 99_999_999n, 10n ** 15n - 1n]) {
      const enc = new SequenceEncoder(1_700_000_000, 3);
      const run = enc.run(from - 2n, 1_700_000_123);
      const buf = Buffer.alloc(64);
      const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
      for (let k = 0; k < 5; k++) assert.equal(buf.toString('latin1', 0, run(view, 0)), enc.encode(from - 2n + BigInt(k), 1_700_000_123));
    }
  });

  it('decode back to what they encode', () => {
    fc.assert(fc.property(parts, (p) => assert.deepEqual(decodeSequenceNumber(encodeSequenceNumber(p)), { ...p })));
  });

  it('increase strictly with the position within a shard, whatever the arrival times', () => {
    fc.assert(
      fc.property(parts, fc.bigInt({ min: 1n, max: 1000n }), fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }), (p, d, arrival2) => {
        const a = encodeSequenceNumber(p);
        const b = encodeSequenceNumber({ ...p, position: p.position + d, arrivalSec: arrival2 });
        if (p.position + d < 2n ** 64n) assert.equal(compareSequenceNumbers(a, b), -1);
      }),
    );
  });

  it('sit above the shard starting sequence number from position 1 on', () => {
    fc.assert(
      fc.property(parts, (p) => {
        const start = shardStartingSequenceNumber(p.shardCreatedSec, p.shardIndex);
        const rec = encodeSequenceNumber({ ...p, position: p.position + 1n >= 2n ** 64n ? 1n : p.position + 1n });
        assert.equal(compareSequenceNumbers(start, rec), -1);
      }),
    );
  });

  it('share the layout of real AWS sequence numbers', () => {
    // A sequence number AWS returned (checklist 1.4) decodes into sensible parts under our layout.
    assert.deepEqual(decodeSequenceNumber('49546986683135544286507457936321625675700192471156785154'), {
      shardCreatedSec: 1421279230,
      shardIndex: 0,
      position: 469n,
      arrivalSec: 1421279386,
    });
  });

  it('refuse numbers of any other layout', () => {
    assert.equal(decodeSequenceNumber('0'), undefined);
    assert.equal(decodeSequenceNumber('1'.repeat(56)), undefined);
    assert.equal(decodeSequenceNumber('abc'), undefined);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 60n }), (n) => void decodeSequenceNumber(n.toString())));
  });
});
