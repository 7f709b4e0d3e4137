import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { aggregate, aggregatedSize, Aggregator, deaggregate, effectiveHashKey, isAggregated, KPL_MAGIC, type UserRecord, writeDigest } from '../../src/aggregation/index.js';

const md5 = (b: Uint8Array): Buffer => createHash('md5').update(b).digest();
/** Some int32 hash of a key (Aggregator.add's keyHash: any well-mixed hash will do). */
const i32 = (s: string): number => md5(Buffer.from(s)).readInt32BE(12);
/** Hex with spaces and `#` comments. */
const hex = (s: string): Buffer => Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
/** Wraps protobuf bytes in magic + MD5 as the KPL does. */
const container = (proto: Buffer): Buffer => Buffer.concat([KPL_MAGIC, proto, md5(proto)]);

const sample: UserRecord[] = [
  { partitionKey: 'k1', data: Buffer.from('hello') },
  { partitionKey: 'k2', explicitHashKey: '123', data: Buffer.from('world') },
  { partitionKey: 'k1', data: Buffer.from('x') },
];
// Hand-assembled proto2 bytes of sample (checklist 2.1 messages.proto).
const sampleProto = hex(`
  0a 02 6b31                        # partition_key_table "k1"
  0a 02 6b32                        # partition_key_table "k2"
  12 03 313233                      # explicit_hash_key_table "123"
  1a 09 0800 1a05 68656c6c6f        # Record{pk 0, data "hello"}
  1a 0b 0801 1000 1a05 776f726c64   # Record{pk 1, ehk 0, data "world"}
  1a 05 0800 1a01 78                # Record{pk 0, data "x"}
`);

describe('format', () => {
  test('magic is F3 89 9A C2', () => {
    assert.deepEqual([...KPL_MAGIC], [0xf3, 0x89, 0x9a, 0xc2]);
  });

  test('aggregate writes magic, the protobuf and its MD5', () => {
    const out = aggregate(sample);
    assert.deepEqual(out.data, container(sampleProto));
    assert.equal(aggregatedSize(sample), out.data.length);
  });

  test('several records: PartitionKey "a" and the first record\'s hash key (KPL KinesisRecord)', () => {
    const out = aggregate(sample);
    assert.equal(out.partitionKey, 'a');
    assert.equal(out.explicitHashKey, effectiveHashKey('k1').toString());
    const withEhk = aggregate([sample[1] as UserRecord, sample[0] as UserRecord]);
    assert.equal(withEhk.explicitHashKey, '123');
  });

  test('one record: its own partition key, still in the container format', () => {
    const out = aggregate([{ partitionKey: 'only', data: Buffer.from('d') }]);
    assert.equal(out.partitionKey, 'only');
    assert.ok(isAggregated(out.data));
    assert.deepEqual(deaggregate(out).map((r) => r.data.toString()), ['d']);
  });

  test('empty input is an error', () => {
    assert.throws(() => aggregate([]), RangeError);
  });
});

describe('effectiveHashKey', () => {
  test('MD5 of the UTF-8 partition key, big-endian unsigned', () => {
    assert.equal(effectiveHashKey('a'), BigInt('0x0cc175b9c0f1b6a831c399e269772661'));
    assert.equal(effectiveHashKey('é'), BigInt(`0x${md5(Buffer.from('é', 'utf8')).toString('hex')}`));
  });
  test('explicit hash key wins', () => {
    assert.equal(effectiveHashKey('a', '0'), 0n);
    assert.equal(effectiveHashKey('a', '340282366920938463463374607431768211455'), (1n << 128n) - 1n);
  });
  test('bad explicit hash keys are rejected', () => {
    for (const bad of ['', '-1', '1.5', 'x', '340282366920938463463374607431768211456', '1'.repeat(40)]) {
      assert.throws(() => effectiveHashKey('a', bad), RangeError, bad);
    }
  });
});

describe('deaggregate (KCL AggregatorUtil, checklist 2.3)', () => {
  const plain = { partitionKey: 'p', data: Buffer.from('plain data') };

  test('a plain record comes back as-is, not aggregated', () => {
    assert.deepEqual(deaggregate(plain), [{ partitionKey: 'p', data: Buffer.from('plain data'), subSequenceNumber: 0, aggregated: false }]);
    assert.deepEqual(deaggregate({ ...plain, explicitHashKey: '5' })[0]?.explicitHashKey, '5');
  });

  test('user records with sub-sequence numbers, keys and hash keys', () => {
    const out = deaggregate({ partitionKey: 'a', data: container(sampleProto) });
    assert.deepEqual(out, [
      { partitionKey: 'k1', data: Buffer.from('hello'), subSequenceNumber: 0, aggregated: true },
      { partitionKey: 'k2', explicitHashKey: '123', data: Buffer.from('world'), subSequenceNumber: 1, aggregated: true },
      { partitionKey: 'k1', data: Buffer.from('x'), subSequenceNumber: 2, aggregated: true },
    ]);
  });

  const asIsCases: [string, Buffer][] = [
    ['magic only', Buffer.from(KPL_MAGIC)],
    ['magic + 16 bytes (no room for a body)', Buffer.concat([KPL_MAGIC, md5(Buffer.alloc(0))])],
    ['bad MD5', Buffer.concat([KPL_MAGIC, sampleProto, Buffer.alloc(16)])],
    ['truncated', container(sampleProto).subarray(0, 30)],
    ['bad protobuf, good MD5', container(hex('1a ff 01 00'))],
    ['varint too long', container(hex('08 ff ff ff ff ff ff ff ff ff ff 01'))],
    ['group wire type', container(hex('0b 0c'))],
    ['Record without data (required)', container(hex('0a 01 6b 1a 02 08 00'))],
    ['Record without partition_key_index (required)', container(hex('0a 01 6b 1a 03 1a 01 78'))],
    ['partition_key_index past the table', container(hex('0a 01 6b 1a 05 08 01 1a 01 78'))],
    ['explicit_hash_key_index past the table', container(hex('0a 01 6b 1a 07 08 00 10 00 1a 01 78'))],
    ['Tag without key (required)', container(hex('0a 01 6b 1a 09 08 00 1a 01 78 22 02 12 00'))],
    ['field number 0', container(hex('00 00'))],
  ];
  for (const [name, data] of asIsCases) {
    test(`${name} ⇒ the record as-is`, () => {
      const out = deaggregate({ partitionKey: 'outer', data });
      assert.equal(out.length, 1);
      assert.equal(out[0]?.aggregated, false);
      assert.equal(out[0]?.partitionKey, 'outer');
      assert.deepEqual(out[0]?.data, data);
    });
  }

  test('unknown fields are skipped; tags are accepted', () => {
    const proto = hex(`
      0a 01 6b                  # partition_key_table "k"
      28 07                     # field 5 varint (unknown)
      31 0102030405060708       # field 6 fixed64 (unknown)
      3d 01020304               # field 7 fixed32 (unknown)
      42 02 ffff                # field 8 bytes (unknown)
      1a 13 08 00 1a 01 78      # Record{pk 0, data "x",
        22 05 0a 01 74 12 00    #   tags [{key "t", value ""}],
        48 01 25 00000000       #   unknown varint and fixed32}
    `);
    const out = deaggregate({ partitionKey: 'outer', data: container(proto) });
    assert.deepEqual(out, [{ partitionKey: 'k', data: Buffer.from('x'), subSequenceNumber: 0, aggregated: true }]);
  });

  test('an empty AggregatedRecord yields no user records', () => {
    const data = container(hex('0a 01 6b'));
    assert.deepEqual(deaggregate({ partitionKey: 'outer', data }), []);
  });

  test('a user record outside the shard range drops the whole aggregate', () => {
    const recs: UserRecord[] = [
      { partitionKey: 'x', explicitHashKey: '10', data: Buffer.from('1') },
      { partitionKey: 'y', explicitHashKey: '20', data: Buffer.from('2') },
      { partitionKey: 'z', explicitHashKey: '30', data: Buffer.from('3') },
    ];
    const agg = aggregate(recs);
    assert.equal(deaggregate(agg, { start: 10n, end: 30n }).length, 3);
    assert.deepEqual(deaggregate(agg, { start: 0n, end: 25n }), []);
    assert.deepEqual(deaggregate(agg, { start: 15n, end: 40n }), []);
    // A plain record is not range-checked (KCL).
    assert.equal(deaggregate({ partitionKey: 'q', explicitHashKey: '99', data: Buffer.from('p') }, { start: 0n, end: 1n }).length, 1);
  });

  test('accepts a Uint8Array that is a view into a larger buffer', () => {
    const agg = aggregate(sample).data;
    const big = new Uint8Array(agg.length + 10);
    big.set(agg, 5);
    const out = deaggregate({ partitionKey: 'a', data: big.subarray(5, 5 + agg.length) });
    assert.equal(out.length, 3);
  });
});

describe('Aggregator', () => {
  test('counts sizes exactly', () => {
    const a = new Aggregator({ maxBytes: 1 << 20 });
    for (let i = 0; i < 300; i++) {
      assert.ok(a.add({ partitionKey: `key-${i % 37}`, ...(i % 5 === 0 ? { explicitHashKey: String(i * 1e9) } : {}), data: Buffer.alloc(i) }));
      assert.equal(a.containerSize, a.serialize().length);
    }
  });

  test('successive aggregates of different sizes: records(), count and contents stay exact', () => {
    const a = new Aggregator({ maxBytes: 1 << 20 });
    for (const n of [1, 40, 3, 3, 100, 0, 7, 200, 2]) {
      const recs = Array.from({ length: n }, (_, i) => ({ partitionKey: `p${i % 9}`, data: Buffer.from(`r${n}-${i}`) }));
      for (const r of recs) assert.ok(a.add(r, undefined, i32(r.partitionKey)));
      assert.equal(a.count, n);
      assert.deepEqual(a.records(), recs);
      if (n > 0) {
        const out = deaggregate({ data: a.serialize(), partitionKey: 'a' });
        assert.deepEqual(
          out.map((u) => [u.partitionKey, u.data.toString()]),
          recs.map((r) => [r.partitionKey, r.data.toString()]),
        );
      }
      a.reset();
      assert.equal(a.count, 0);
      assert.deepEqual(a.records(), []);
    }
  });

  test('a deferred digest leaves the trailer to writeDigest, which makes the same container', () => {
    const a = new Aggregator();
    for (const r of sample) a.add(r);
    const plain = a.serialize();
    let allocated = 0;
    const deferred = a.serialize({
      alloc: (size) => {
        allocated = size;
        return Buffer.alloc(size);
      },
    });
    assert.equal(allocated, plain.length);
    assert.deepEqual(deferred.subarray(deferred.length - 16), Buffer.alloc(16), 'no digest yet');
    writeDigest(deferred);
    assert.deepEqual(deferred, plain);
  });

  test('stops at maxBytes and maxCount; an empty aggregator takes anything', () => {
    const a = new Aggregator({ maxBytes: 200 });
    assert.ok(a.add({ partitionKey: 'big', data: Buffer.alloc(500) }));
    assert.equal(a.add({ partitionKey: 'k', data: Buffer.alloc(1) }), false);
    const built = a.build();
    assert.equal(built.partitionKey, 'big', 'a lone record goes raw');
    assert.equal(built.data.length, 500);
    assert.equal(a.count, 0);
    let n = 0;
    while (a.add({ partitionKey: 'k', data: Buffer.alloc(10) })) n++;
    assert.ok(a.size <= 200 && a.size > 170, String(a.size));
    assert.equal(a.count, n);
    const out = a.build();
    assert.equal(out.partitionKey, 'a');
    assert.ok(out.data.length + 1 <= 200);
    assert.equal(deaggregate(out).length, n);
    const c = new Aggregator({ maxCount: 2 });
    assert.ok(c.add({ partitionKey: 'k', data: Buffer.alloc(1) }));
    assert.ok(c.add({ partitionKey: 'k', data: Buffer.alloc(1) }));
    assert.equal(c.add({ partitionKey: 'k', data: Buffer.alloc(1) }), false);
  });

  test('validates its options', () => {
    assert.throws(() => new Aggregator({ maxBytes: 10 }), /maxBytes/);
    assert.throws(() => new Aggregator({ maxCount: 0 }), /maxCount/);
  });
});

// ---- properties ----

const hashKeyArb = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map(String);
const userRecordArb: fc.Arbitrary<UserRecord> = fc.record(
  {
    partitionKey: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
    explicitHashKey: hashKeyArb,
    data: fc.uint8Array({ maxLength: 300 }),
  },
  { requiredKeys: ['partitionKey', 'data'] },
);

describe('properties', () => {
  test('deaggregate(aggregate(records)) returns the records', () => {
    fc.assert(
      fc.property(fc.array(userRecordArb, { minLength: 1, maxLength: 40 }), (records) => {
        const out = deaggregate(aggregate(records));
        assert.equal(out.length, records.length);
        out.forEach((u, i) => {
          const r = records[i] as UserRecord;
          assert.equal(u.partitionKey, r.partitionKey);
          assert.equal(u.explicitHashKey, r.explicitHashKey);
          assert.deepEqual(new Uint8Array(u.data), r.data);
          assert.equal(u.subSequenceNumber, i);
          assert.equal(u.aggregated, true);
        });
      }),
    );
  });

  test('string data goes in as its UTF-8 bytes: the same containers, sizes and limits as with Buffers', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300, unit: 'grapheme' }),
      fc.string({ maxLength: 100, unit: 'binary' }),
      fc.constantFrom('', 'ascii only, longer than sixty-four characters, written by Buffer#write', 'é✓😀', '\ud800 lone surrogate'),
    );
    const rec = fc.record(
      { partitionKey: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), explicitHashKey: hashKeyArb, data: fc.oneof(text, text, fc.uint8Array({ maxLength: 300 })) },
      { requiredKeys: ['partitionKey', 'data'] },
    );
    const bytes = (r: UserRecord): UserRecord => ({ ...r, data: typeof r.data === 'string' ? Buffer.from(r.data, 'utf8') : r.data });
    fc.assert(
      fc.property(fc.array(rec, { minLength: 1, maxLength: 40 }), fc.integer({ min: 64, max: 4096 }), (records, maxBytes) => {
        const asBytes = records.map(bytes);
        assert.ok(aggregate(records).data.equals(aggregate(asBytes).data));
        assert.equal(aggregatedSize(records), aggregatedSize(asBytes));
        const a = new Aggregator({ maxBytes });
        const b = new Aggregator({ maxBytes });
        const same = (): void => {
          const x = a.build();
          const y = b.build();
          assert.equal(x.partitionKey, y.partitionKey);
          assert.equal(x.explicitHashKey, y.explicitHashKey);
          assert.ok(x.data.equals(y.data));
        };
        records.forEach((r, i) => {
          const took = a.add(r);
          assert.equal(took, b.add(asBytes[i] as UserRecord));
          if (!took) {
            same();
            assert.ok(a.add(r) && b.add(asBytes[i] as UserRecord));
          }
          assert.equal(a.size, b.size);
        });
        same();
      }),
    );
  });

  test('Aggregator never exceeds maxBytes once it holds two records, and its size is exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 4096 }), fc.array(userRecordArb, { minLength: 1, maxLength: 60 }), (maxBytes, records) => {
        const a = new Aggregator({ maxBytes });
        const seen: UserRecord[] = [];
        const flush = (): void => {
          const built = a.build();
          if (seen.length > 1) assert.ok(built.data.length + built.partitionKey.length <= maxBytes);
          const back = seen.length > 1 ? deaggregate(built) : [{ data: built.data }];
          assert.equal(back.length, seen.length);
          seen.length = 0;
        };
        for (const r of records) {
          if (!a.add(r)) {
            flush();
            assert.ok(a.add(r));
          }
          seen.push(r);
          assert.equal(a.containerSize, a.serialize().length);
        }
        flush();
      }),
    );
  });

  test('deaggregate never throws, whatever follows the magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), fc.option(fc.record({ start: fc.bigInt({ min: 0n, max: 1n << 127n }), end: fc.bigInt({ min: 1n << 127n, max: (1n << 128n) - 1n }) }), { nil: undefined }), (body, goodDigest, range) => {
        const b = Buffer.from(body);
        const data = goodDigest ? container(b) : Buffer.concat([KPL_MAGIC, b]);
        const out = deaggregate({ partitionKey: 'o', data }, range);
        for (const u of out) assert.equal(typeof u.partitionKey, 'string');
      }),
      { numRuns: 2000 },
    );
  });
});
