import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { evenRanges, MAX_HASH_KEY, parseHashKey, partitionKeyHash } from '../../src/core/hash-key.js';
import { md5Words, md5WordsOfBytes } from '../../src/core/md5.js';

describe('hash keys', () => {
  it('splits the key space as AWS does for 2 shards', () => {
    const [a, b] = evenRanges(2);
    assert.equal(a?.start.toString(), '0');
    assert.equal(a?.end.toString(), '170141183460469231731687303715884105727');
    assert.equal(b?.start.toString(), '170141183460469231731687303715884105728');
    assert.equal(b?.end.toString(), '340282366920938463463374607431768211455');
  });

  it('covers [0, 2^128-1] exactly, contiguously, for any shard count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), (n) => {
        const r = evenRanges(n);
        assert.equal(r.length, n);
        assert.equal(r[0]!.start, 0n);
        assert.equal(r[n - 1]!.end, MAX_HASH_KEY);
        for (let i = 1; i < n; i++) assert.equal(r[i]!.start, r[i - 1]!.end + 1n);
        for (const x of r) assert.ok(x.start <= x.end);
      }),
    );
  });

  it('hashes a partition key as the unsigned big-endian MD5 of its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme' }), (pk) => {
        const hex = createHash('md5').update(Buffer.from(pk, 'utf8')).digest('hex');
        assert.equal(partitionKeyHash(pk), BigInt(`0x${hex}`));
      }),
    );
    assert.equal(partitionKeyHash('a').toString(), BigInt('0x0cc175b9c0f1b6a831c399e269772661').toString());
  });

  it('hashes ASCII keys of every length around the one-block limit as node:crypto does', () => {
    const md5 = (pk: string) => BigInt(`0x${createHash('md5').update(Buffer.from(pk, 'utf8')).digest('hex')}`);
    for (let n = 1; n <= 80; n++) {
      for (const fill of ['k', '~', '0123456789abcdef']) {
        const pk = fill.repeat(n).slice(0, n);
        assert.equal(partitionKeyHash(pk), md5(pk), `${n} characters of ${fill}`);
        // One non-ASCII character anywhere takes the UTF-8 path.
        const mixed = `${pk.slice(0, n - 1)}é`;
        assert.equal(partitionKeyHash(mixed), md5(mixed), `${n} characters ending in é`);
      }
    }
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 70, unit: 'binary-ascii' }), (pk) => {
        assert.equal(partitionKeyHash(pk), md5(pk));
      }),
      { numRuns: 2000 },
    );
  });

  it('hashes a partition key from its UTF-8 bytes in a buffer as from the string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })), fc.nat(8), (pk, at) => {
        const bytes = Buffer.from(pk, 'utf8');
        const buf = Buffer.concat([Buffer.alloc(at, 0xff), bytes, Buffer.alloc(3, 0xff)]);
        assert.deepEqual([...md5WordsOfBytes(buf, at, at + bytes.length)], [...md5Words(pk)], pk);
      }),
      { numRuns: 500 },
    );
  });

  it('parses hash keys within [0, 2^128-1] only', () => {
    assert.equal(parseHashKey('0'), 0n);
    assert.equal(parseHashKey(MAX_HASH_KEY.toString()), MAX_HASH_KEY);
    assert.equal(parseHashKey((MAX_HASH_KEY + 1n).toString()), undefined);
    assert.equal(parseHashKey('-1'), undefined);
    assert.equal(parseHashKey('01'), undefined);
    assert.equal(parseHashKey('1e5'), undefined);
  });
});
