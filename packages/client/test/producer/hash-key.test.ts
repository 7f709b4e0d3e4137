import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { effectiveHashKey } from '../../src/aggregation/index.js';
import { bigintWords, compareWords, md5Words, out, wordsBigint } from '../../src/producer/hash-key.js';

const words = (): [number, number, number, number] => [out[0] as number, out[1] as number, out[2] as number, out[3] as number];

test('md5Words agrees with node:crypto, UTF-8 length included', () => {
  const cases = ['', 'a', 'abc', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'x'.repeat(1000), 'é', '日本', '😀', '\ud800', 'a\udc00b', 'k'.repeat(256), '€'.repeat(256)];
  for (const s of cases) {
    const len = md5Words(s);
    assert.equal(wordsBigint(...words()), effectiveHashKey(s), JSON.stringify(s));
    assert.equal(len, Buffer.byteLength(s, 'utf8'));
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => {
      md5Words(s);
      const d = createHash('md5').update(s, 'utf8').digest('hex');
      assert.equal(wordsBigint(...words()), BigInt(`0x${d}`));
    }),
    { numRuns: 2000 },
  );
});

test('biased words order like the hash keys', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (a, b) => {
      bigintWords(a);
      const wa = words();
      assert.equal(wordsBigint(...wa), a);
      bigintWords(b);
      const wb = words();
      const c = compareWords(...wa, ...wb);
      assert.equal(Math.sign(c), a < b ? -1 : a > b ? 1 : 0);
    }),
  );
  for (const v of [0n, 1n, (1n << 32n) - 1n, 1n << 127n, (1n << 128n) - 1n]) {
    bigintWords(v);
    assert.equal(wordsBigint(...words()), v);
  }
});
