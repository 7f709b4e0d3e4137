import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cbor as smithyCbor } from '@smithy/core/cbor';
import { CBOR_MAX_DEPTH, CborError, CborTagged, decodeCbor, encodeCbor } from '../../src/wire/cbor.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** Objects as the decoder makes them: null prototype. */
const obj = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(Object.create(null) as Record<string, unknown>, o);

// RFC 8949 Appendix A, every example the decoder must accept, with the value it must give.
const appendixA: readonly (readonly [string, unknown])[] = [
  ['00', 0],
  ['01', 1],
  ['0a', 10],
  ['17', 23],
  ['1818', 24],
  ['1819', 25],
  ['1864', 100],
  ['1903e8', 1000],
  ['1a000f4240', 1000000],
  ['1b000000e8d4a51000', 1000000000000],
  ['1bffffffffffffffff', 18446744073709551615n],
  ['c249010000000000000000', new CborTagged(2, hex('010000000000000000'))],
  ['3bffffffffffffffff', -18446744073709551616n],
  ['c349010000000000000000', new CborTagged(3, hex('010000000000000000'))],
  ['20', -1],
  ['29', -10],
  ['3863', -100],
  ['3903e7', -1000],
  ['f90000', 0],
  ['f98000', -0],
  ['f93c00', 1],
  ['fb3ff199999999999a', 1.1],
  ['f93e00', 1.5],
  ['f97bff', 65504],
  ['fa47c35000', 100000],
  ['fa7f7fffff', 3.4028234663852886e38],
  ['fb7e37e43c8800759c', 1.0e300],
  ['f90001', 5.960464477539063e-8],
  ['f90400', 0.00006103515625],
  ['f9c400', -4],
  ['fbc010666666666666', -4.1],
  ['f97c00', Infinity],
  ['f97e00', NaN],
  ['f9fc00', -Infinity],
  ['fa7f800000', Infinity],
  ['fa7fc00000', NaN],
  ['faff800000', -Infinity],
  ['fb7ff0000000000000', Infinity],
  ['fb7ff8000000000000', NaN],
  ['fbfff0000000000000', -Infinity],
  ['f4', false],
  ['f5', true],
  ['f6', null],
  ['f7', undefined],
  ['c074323031332d30332d32315432303a30343a30305a', new CborTagged(0, '2013-03-21T20:04:00Z')],
  ['c11a514b67b0', new CborTagged(1, 1363896240)],
  ['c1fb41d452d9ec200000', new CborTagged(1, 1363896240.5)],
  ['d74401020304', new CborTagged(23, hex('01020304'))],
  ['d818456449455446', new CborTagged(24, hex('6449455446'))],
  ['d82076687474703a2f2f7777772e6578616d706c652e636f6d', new CborTagged(32, 'http://www.example.com')],
  ['40', Buffer.alloc(0)],
  ['4401020304', hex('01020304')],
  ['60', ''],
  ['6161', 'a'],
  ['6449455446', 'IETF'],
  ['62225c', '"\\'],
  ['62c3bc', '\u00fc'],
  ['63e6b0b4', '\u6c34'],
  ['64f0908591', '\ud800\udd51'],
  ['80', []],
  ['83010203', [1, 2, 3]],
  ['8301820203820405', [1, [2, 3], [4, 5]]],
  [
    '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    Array.from({ length: 25 }, (_, i) => i + 1),
  ],
  ['a0', obj({})],
  ['a26161016162820203', obj({ a: 1, b: [2, 3] })],
  ['826161a161626163', ['a', obj({ b: 'c' })]],
  ['a56161614161626142616361436164614461656145', obj({ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' })],
  ['5f42010243030405ff', hex('0102030405')],
  ['7f657374726561646d696e67ff', 'streaming'],
  ['9fff', []],
  ['9f018202039f0405ffff', [1, [2, 3], [4, 5]]],
  ['9f01820203820405ff', [1, [2, 3], [4, 5]]],
  ['83018202039f0405ff', [1, [2, 3], [4, 5]]],
  ['83019f0203ff820405', [1, [2, 3], [4, 5]]],
  [
    '9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff',
    Array.from({ length: 25 }, (_, i) => i + 1),
  ],
  ['bf61610161629f0203ffff', obj({ a: 1, b: [2, 3] })],
  ['826161bf61626163ff', ['a', obj({ b: 'c' })]],
  ['bf6346756ef563416d7421ff', obj({ Fun: true, Amt: -2 })],
];

// What the encoder writes: RFC 8949 preferred serialization (Appendix A where it applies).
const encodings: readonly (readonly [string, unknown, string])[] = [
  ['zero', 0, '00'],
  ['23', 23, '17'],
  ['24', 24, '1818'],
  ['255', 255, '18ff'],
  ['256', 256, '190100'],
  ['65535', 65535, '19ffff'],
  ['65536', 65536, '1a00010000'],
  ['2^32 - 1', 4294967295, '1affffffff'],
  ['2^32', 4294967296, '1b0000000100000000'],
  ['1000000000000', 1000000000000, '1b000000e8d4a51000'],
  ['MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
  ['MIN_SAFE_INTEGER', Number.MIN_SAFE_INTEGER, '3b001ffffffffffffe'],
  ['-1', -1, '20'],
  ['-24', -24, '37'],
  ['-25', -25, '3818'],
  ['-1000', -1000, '3903e7'],
  ['2^53 is past safe: a float', 2 ** 53, 'fa5a000000'],
  ['-0 keeps its sign', -0, 'f98000'],
  ['1.1', 1.1, 'fb3ff199999999999a'],
  ['1.5', 1.5, 'f93e00'],
  ['-4.1', -4.1, 'fbc010666666666666'],
  ['float32 max', 3.4028234663852886e38, 'fa7f7fffff'],
  ['1e300', 1.0e300, 'fb7e37e43c8800759c'],
  ['smallest half subnormal', 5.960464477539063e-8, 'f90001'],
  ['largest half subnormal', 1023 * 2 ** -24, 'f903ff'],
  ['smallest half normal', 0.00006103515625, 'f90400'],
  ['half with the low float32 bits set is single', 1 + 2 ** -23, 'fa3f800001'],
  ['float32 subnormal', 2 ** -149, 'fa00000001'],
  ['0.1', 0.1, 'fb3fb999999999999a'],
  ['Infinity', Infinity, 'f97c00'],
  ['-Infinity', -Infinity, 'f9fc00'],
  ['NaN', NaN, 'f97e00'],
  ['bigint 0', 0n, '00'],
  ['bigint safe', 1000n, '1903e8'],
  ['bigint 2^64 - 1', 18446744073709551615n, '1bffffffffffffffff'],
  ['bigint 2^64', 18446744073709551616n, 'c249010000000000000000'],
  ['bigint -2^64', -18446744073709551616n, '3bffffffffffffffff'],
  ['bigint -2^64 - 1', -18446744073709551617n, 'c349010000000000000000'],
  ['bigint 2^72', 1n << 72n, 'c24a01000000000000000000'],
  ['false', false, 'f4'],
  ['true', true, 'f5'],
  ['null', null, 'f6'],
  ['undefined', undefined, 'f7'],
  ['empty text', '', '60'],
  ['IETF', 'IETF', '6449455446'],
  ['ü', '\u00fc', '62c3bc'],
  ['水', '\u6c34', '63e6b0b4'],
  ['astral', '\ud800\udd51', '64f0908591'],
  ['lone surrogate becomes U+FFFD', '\ud800', '63efbfbd'],
  ['24-char text', 'a'.repeat(24), '7818' + '61'.repeat(24)],
  ['empty bytes', Buffer.alloc(0), '40'],
  ['Buffer', hex('01020304'), '4401020304'],
  ['Uint8Array', new Uint8Array([1, 2, 3, 4]), '4401020304'],
  ['array', [1, [2, 3], [4, 5]], '8301820203820405'],
  ['undefined in an array stays', [undefined], '81f7'],
  ['object', { a: 1, b: [2, 3] }, 'a26161016162820203'],
  ['undefined members are left out', { a: 1, b: undefined, c: undefined }, 'a1616101'],
  ['null members stay', { a: null }, 'a16161f6'],
  ['null-prototype object', obj({ a: 'A' }), 'a161616141'],
  ['Map', new Map<string, unknown>([['a', 1], ['b', undefined], ['c', 'C']]), 'a2616101' + '61636143'],
  ['tag 1 with epoch millis', new CborTagged(1, 1700000000123), 'c11b0000018bcfe5687b'],
  ['nested tags', new CborTagged(55799, new CborTagged(1, 0)), 'd9d9f7c100'],
];

describe('decodeCbor', () => {
  for (const [bytes, expected] of appendixA) {
    test(`RFC 8949 Appendix A: ${bytes}`, () => {
      assert.deepStrictEqual(decodeCbor(hex(bytes)), expected);
    });
  }

  test('maps have a null prototype, so "__proto__" is an ordinary key', () => {
    const m = decodeCbor(hex('a1695f5f70726f746f5f5f01')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(m), null);
    assert.deepStrictEqual(Object.keys(m), ['__proto__']);
    assert.equal(m['__proto__'], 1);
  });

  test('a Java-SDK-style PutRecord request: indefinite map, byte string, tag 1 over epoch millis', () => {
    // What Jackson's CBORGenerator writes under SdkCborGenerator: writeStartObject() opens an
    // indefinite-length map; Instants are writeTag(1) + writeNumber(toEpochMilli()).
    const body = hex(`
      bf
        6a 53747265616d4e616d65        # "StreamName"
        61 73                          # "s"
        6c 506172746974696f6e4b6579    # "PartitionKey"
        62 706b                        # "pk"
        64 44617461                    # "Data"
        43 000102                      # h'000102'
        69 54696d657374616d70          # "Timestamp"
        c1 1b 0000018bcfe5687b         # 1(1700000000123)
      ff`.replace(/#.*$/gm, ''));
    const req = decodeCbor(body) as Record<string, unknown>;
    assert.deepStrictEqual(
      req,
      obj({
        StreamName: 's',
        PartitionKey: 'pk',
        Data: hex('000102'),
        Timestamp: new CborTagged(1, 1700000000123),
      }),
    );
    assert.ok(Buffer.isBuffer(req['Data']));
  });

  test('byte strings are copies, not views of the input', () => {
    const input = hex('4401020304');
    const out = decodeCbor(input) as Buffer;
    input[1] = 0xff;
    assert.deepStrictEqual(out, hex('01020304'));
  });

  test('reads from a Uint8Array view at a non-zero offset', () => {
    const backing = hex('ffff 1903e8 ffff');
    assert.equal(decodeCbor(new Uint8Array(backing.buffer, backing.byteOffset + 2, 3)), 1000);
  });

  test('many distinct keys, more than the key cache holds, all come back right', () => {
    const o = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    const back = decodeCbor(encodeCbor(o)) as Record<string, number>;
    assert.deepStrictEqual({ ...back }, o);
    // Same lengths, different bytes: a cache hit must compare bytes, not just a hash.
    assert.deepStrictEqual(decodeCbor(hex('a1 626162 01')), obj({ ab: 1 }));
    assert.deepStrictEqual(decodeCbor(hex('a1 626261 01')), obj({ ba: 1 }));
    assert.deepStrictEqual(decodeCbor(hex('a1 626162 01')), obj({ ab: 1 }));
  });

  test('integers: number while safe, bigint beyond', () => {
    assert.equal(decodeCbor(hex('1b001fffffffffffff')), Number.MAX_SAFE_INTEGER);
    assert.equal(decodeCbor(hex('1b0020000000000000')), 2n ** 53n);
    assert.equal(decodeCbor(hex('3b001ffffffffffffe')), Number.MIN_SAFE_INTEGER);
    assert.equal(decodeCbor(hex('3b001fffffffffffff')), -(2n ** 53n));
    // Non-preferred (longer than needed) heads are well-formed and accepted.
    assert.equal(decodeCbor(hex('1b0000000000000001')), 1);
    assert.equal(decodeCbor(hex('3900 00')), -1);
  });

  test('a BOM at the start of a text string is kept', () => {
    assert.equal(decodeCbor(hex('66efbbbf616263')), '\ufeffabc');
    assert.equal(decodeCbor(hex('7828' + 'efbbbf' + '61'.repeat(37))), '\ufeff' + 'a'.repeat(37));
  });

  test('long and non-ASCII text', () => {
    const s = 'Grüße, 世界! '.repeat(50);
    const bytes = Buffer.from(s, 'utf8');
    assert.equal(decodeCbor(Buffer.concat([hex('7a'), uint32(bytes.length), bytes])), s);
  });

  test(`${CBOR_MAX_DEPTH} levels of nesting are fine`, () => {
    const depth = CBOR_MAX_DEPTH;
    let v = decodeCbor(hex('81'.repeat(depth - 1) + '80'));
    for (let i = 0; i < depth - 1; i++) v = (v as unknown[])[0];
    assert.deepStrictEqual(v, []);
    assert.ok(decodeCbor(hex('c1'.repeat(depth) + '00')) instanceof CborTagged);
    assert.ok(decodeCbor(hex('a16161'.repeat(depth - 1) + 'a0')));
  });

  const bad: readonly (readonly [string, string, RegExp])[] = [
    ['empty input', '', /end of input/],
    ['truncated head', '19 01', /end of input/],
    ['truncated 64-bit head', '1b 00000000', /end of input/],
    ['truncated float', 'fb 3ff1', /end of input/],
    ['truncated byte string', '44 0102', /runs past the end/],
    ['truncated text string', '64 4945', /runs past the end/],
    ['truncated array', '83 0102', /runs past the end/],
    ['truncated array, count fits', '83 01 8102', /end of input/],
    ['truncated map', 'a2 6161 01 6162', /end of input/],
    ['map key without a value', 'a1 6161', /end of input/],
    ['tag without content', 'c1', /end of input/],
    ['unterminated indefinite array', '9f 01 02', /end of input/],
    ['unterminated indefinite map', 'bf 6161 01', /end of input/],
    ['unterminated indefinite bytes', '5f 41 00', /end of input/],
    ['trailing bytes', '00 00', /trailing/],
    ['trailing break', '80 ff', /trailing/],
    ['reserved ai 28 (uint)', '1c', /reserved/],
    ['reserved ai 29 (negative)', '3d', /reserved/],
    ['reserved ai 30 (bytes)', '5e', /reserved/],
    ['reserved ai 28 (simple)', 'fc', /reserved/],
    ['reserved ai 29 (simple)', 'fd', /reserved/],
    ['reserved ai 30 (simple)', 'fe', /reserved/],
    ['indefinite unsigned', '1f', /indefinite/],
    ['indefinite negative', '3f', /indefinite/],
    ['indefinite tag', 'df', /indefinite/],
    ['lone break', 'ff', /break/],
    ['break inside a definite array', '82 01 ff', /break/],
    ['break as a map value', 'bf 6161 ff', /break/],
    ['break as a tag content', 'c1 ff', /break/],
    ['odd indefinite map', 'bf 6161 ff ff', /break/],
    ['byte string length beyond the buffer', '5b ffffffffffffffff', /runs past/],
    ['text length beyond the buffer', '7a 7fffffff 41', /runs past/],
    ['array count beyond the buffer', '9b 00000000ffffffff 00', /runs past/],
    ['array count 2^64-1', '9b ffffffffffffffff', /runs past/],
    ['map count beyond the buffer', 'bb 000000007fffffff 6161', /runs past/],
    ['map count needing two bytes per entry', 'a2 6161 01', /runs past/],
    ['invalid UTF-8', '62 c328', /UTF-8/],
    ['lone continuation byte', '61 80', /UTF-8/],
    ['overlong encoding', '62 c0af', /UTF-8/],
    ['UTF-8 encoded surrogate', '63 eda080', /UTF-8/],
    ['code point past U+10FFFF', '64 f4908080', /UTF-8/],
    ['long invalid UTF-8', '78 28' + '61'.repeat(39) + 'ff', /UTF-8/],
    ['character split across text chunks', '7f 61c3 61bc ff', /UTF-8/],
    ['text chunk in indefinite bytes', '5f 6161 ff', /chunk/],
    ['indefinite chunk in indefinite bytes', '5f 5f ff ff', /chunk/],
    ['byte chunk in indefinite text', '7f 4161 ff', /chunk/],
    ['integer map key', 'a1 01 02', /key is not a text string/],
    ['byte string map key', 'a1 4161 02', /key is not a text string/],
    ['array map key', 'a1 80 02', /key is not a text string/],
    ['duplicate map key', 'a2 6161 01 6161 02', /duplicate/],
    ['duplicate key, indefinite map', 'bf 6161 01 7f6161ff 02 ff', /duplicate/],
    ['unassigned simple value', 'f0', /simple value 16/],
    ['simple value 255', 'f8ff', /simple value 255/],
    ['simple value below 32 in two-byte form', 'f814', /two-byte form/],
    ['tag number beyond 2^53', 'db ffffffffffffffff 00', /tag number/],
    ['nesting one deeper than allowed', '81'.repeat(CBOR_MAX_DEPTH) + '80', /nesting/],
    ['deep indefinite arrays', '9f'.repeat(100_000), /nesting/],
    ['deep tags', 'c1'.repeat(CBOR_MAX_DEPTH) + 'c100', /nesting/],
    ['deep maps', 'a16161'.repeat(CBOR_MAX_DEPTH) + 'a0', /nesting/],
  ];
  for (const [name, bytes, message] of bad) {
    test(`rejects: ${name}`, () => {
      assert.throws(() => decodeCbor(hex(bytes)), (e: unknown) => e instanceof CborError && message.test(e.message));
    });
  }

  test('errors say where', () => {
    assert.throws(
      () => decodeCbor(hex('83 01 02 1c')),
      (e: unknown) => e instanceof CborError && e.offset === 3 && e.name === 'CborError',
    );
  });
});

describe('encodeCbor', () => {
  for (const [name, value, expected] of encodings) {
    test(`writes ${name}`, () => {
      assert.equal(toHex(encodeCbor(value)), expected);
    });
  }

  test('long strings use the shortest head', () => {
    assert.equal(toHex(encodeCbor('a'.repeat(255)).subarray(0, 2)), '78ff');
    assert.equal(toHex(encodeCbor('a'.repeat(256)).subarray(0, 3)), '790100');
    assert.equal(toHex(encodeCbor('a'.repeat(65536)).subarray(0, 5)), '7a00010000');
    // 40 characters, 80 bytes: the ASCII guess (head for 40) would be wrong.
    const twoByte = 'é'.repeat(40);
    assert.equal(toHex(encodeCbor(twoByte).subarray(0, 2)), '7850');
    // 60 characters with the only non-ASCII one last: the fast path must back out cleanly.
    const lateNonAscii = 'a'.repeat(59) + 'é';
    assert.equal(toHex(encodeCbor(lateNonAscii)), '783d' + '61'.repeat(59) + 'c3a9');
  });

  test('arrays and maps with long counts', () => {
    const arr = new Array<number>(300).fill(0);
    assert.equal(toHex(encodeCbor(arr).subarray(0, 3)), '99012c');
    assert.deepStrictEqual(decodeCbor(encodeCbor(arr)), arr);
  });

  test('output grows past the initial buffer and is a fresh copy each call', () => {
    const big = Buffer.alloc(200_000, 7);
    const a = encodeCbor([big, big]);
    assert.equal(a.length, 2 * (5 + 200_000) + 1);
    const b = encodeCbor(1);
    assert.equal(toHex(b), '01');
    assert.equal(a[0], 0x82);
    assert.deepStrictEqual(decodeCbor(a), [big, big]);
  });

  test('a getter that encodes while the encoder is busy gets its own buffer', () => {
    const inner = { x: 'inner' };
    const outer = {
      get a(): Buffer {
        return encodeCbor(inner);
      },
      b: 'after',
    };
    assert.deepStrictEqual(decodeCbor(encodeCbor(outer)), obj({ a: encodeCbor(inner), b: 'after' }));
  });

  class Point {
    constructor(readonly x: number) {}
  }
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  const refused: readonly (readonly [string, unknown, RegExp])[] = [
    ['a function', () => 1, /function/],
    ['a symbol', Symbol('s'), /symbol/],
    ['a Date', new Date(0), /Date/],
    ['a class instance', new Point(1), /Point/],
    ['a Set', new Set([1]), /Set/],
    ['a DataView', new DataView(new ArrayBuffer(1)), /DataView/],
    ['a Map with a number key', new Map([[1, 2]]), /Map key/],
    ['a negative tag', new CborTagged(-1, 0), /tag/],
    ['a fractional tag', new CborTagged(1.5, 0), /tag/],
    ['a cycle', cyclic, /nesting/],
    ['too deep', JSON.parse('['.repeat(CBOR_MAX_DEPTH + 1) + ']'.repeat(CBOR_MAX_DEPTH + 1)) as unknown, /nesting/],
  ];
  for (const [name, value, message] of refused) {
    test(`refuses ${name}`, () => {
      assert.throws(() => encodeCbor(value), (e: unknown) => e instanceof CborError && message.test(e.message));
    });
  }

  test(`${CBOR_MAX_DEPTH} levels is the most it writes, and it reads them back`, () => {
    const deepest = JSON.parse('['.repeat(CBOR_MAX_DEPTH) + ']'.repeat(CBOR_MAX_DEPTH)) as unknown;
    assert.deepStrictEqual(decodeCbor(encodeCbor(deepest)), deepest);
  });

  test('an encoder error leaves the next call unharmed', () => {
    assert.throws(() => encodeCbor(['x'.repeat(100), () => 1]), CborError);
    assert.equal(toHex(encodeCbor(['a'])), '816161');
  });

  test('a GetRecords-like answer round-trips', () => {
    const answer = {
      Records: Array.from({ length: 100 }, (_, i) => ({
        SequenceNumber: (49546986683135544286507457936321625675700192471156785154n + BigInt(i)).toString(),
        ApproximateArrivalTimestamp: 1700000000123 + i,
        Data: Buffer.alloc(100, i),
        PartitionKey: `pk-${i}`,
        EncryptionType: undefined,
      })),
      NextShardIterator: 'AAAAAAAAAAH' + 'x'.repeat(200),
      MillisBehindLatest: 0,
      ChildShards: undefined,
    };
    const back = decodeCbor(encodeCbor(answer)) as { Records: Record<string, unknown>[] };
    assert.equal(back.Records.length, 100);
    assert.deepStrictEqual(
      back.Records[7],
      obj({
        SequenceNumber: answer.Records[7]?.SequenceNumber,
        ApproximateArrivalTimestamp: 1700000000130,
        Data: Buffer.alloc(100, 7),
        PartitionKey: 'pk-7',
      }),
    );
    assert.deepStrictEqual(Object.keys(back), ['Records', 'NextShardIterator', 'MillisBehindLatest']);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/** Values that decode back to themselves exactly (decoded shapes: Buffers, null-prototype maps). */
const { value: cborValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: -1000, max: 1000 }),
    fc.double(),
    // bigints come back as numbers while safe, so only the unsafe 64-bit ones are their own image.
    fc
      .bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n })
      .filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 8 }),
    fc
      .dictionary(fc.string({ unit: 'binary', maxLength: 12 }), tie('value').filter((v) => v !== undefined), {
        maxKeys: 8,
      })
      .map((o) => Object.assign(Object.create(null) as Record<string, unknown>, o)),
    fc.record({ tag: fc.nat(), value: tie('value') }).map(({ tag, value }) => new CborTagged(tag, value)),
  ),
}));

describe('CBOR properties', () => {
  test('decode(encode(v)) equals v', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        assert.deepStrictEqual(decodeCbor(encodeCbor(v)), v);
      }),
      { numRuns: 2000 },
    );
  });

  test('encoding is stable: encode(decode(encode(v))) equals encode(v)', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        const once = encodeCbor(v);
        assert.deepStrictEqual(encodeCbor(decodeCbor(once)), once);
      }),
      { numRuns: 1000 },
    );
  });

  test('every safe integer and every double round-trips exactly', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.double()), (n) => {
        assert.ok(Object.is(decodeCbor(encodeCbor(n)), n));
      }),
      { numRuns: 5000 },
    );
  });

  test('floats use the shortest exact width', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (n) => {
        const out = encodeCbor(n);
        if (out[0] === 0xfb) assert.notEqual(Math.fround(n), n);
        if (out[0] === 0xfa) assert.equal(Math.fround(n), n);
        if (Number.isSafeInteger(n) && !Object.is(n, -0)) assert.ok((out[0] as number) < 0x40);
      }),
      { numRuns: 3000 },
    );
    // Every half-precision value, read as a half, re-encodes as that same half.
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 31 && (h & 0x3ff) !== 0) continue; // NaN payloads collapse to the canonical NaN
      const v = decodeCbor(Buffer.from([0xf9, h >> 8, h & 0xff])) as number;
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) continue; // integral values become ints
      assert.equal(toHex(encodeCbor(v)), 'f9' + h.toString(16).padStart(4, '0'), `half 0x${h.toString(16)}`);
    }
  });

  const onlyCborErrors = (bytes: Uint8Array): void => {
    try {
      decodeCbor(bytes);
    } catch (e) {
      if (!(e instanceof CborError)) throw e;
    }
  };

  test('arbitrary bytes decode or throw CborError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), onlyCborErrors), { numRuns: 20000 });
  });

  test('bytes biased towards heads and lengths decode or throw CborError', () => {
    // Random bytes rarely form deep or long structures; these favour container heads, big length
    // arguments, breaks and text.
    const interesting = fc.constantFrom(
      0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x3b, 0x5b, 0x5f, 0x61, 0x62, 0x7a, 0x7b, 0x7f, 0x80, 0x81, 0x9b, 0x9f,
      0xa1, 0xbb, 0xbf, 0xc1, 0xc2, 0xd8, 0xdb, 0xf9, 0xfa, 0xfb, 0xff, 0x00, 0xc3, 0xe6, 0xf0,
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(interesting, fc.integer({ min: 0, max: 255 })), { maxLength: 300 }), (a) =>
        onlyCborErrors(Uint8Array.from(a)),
      ),
      { numRuns: 20000 },
    );
  });

  test('any strict prefix of a valid encoding throws CborError', () => {
    fc.assert(
      fc.property(cborValue, fc.nat(), (v, cut) => {
        const bytes = encodeCbor(v);
        const at = cut % bytes.length;
        assert.throws(() => decodeCbor(bytes.subarray(0, at)), CborError);
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid encodings decode or throw CborError', () => {
    fc.assert(
      fc.property(
        cborValue,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (v, edits) => {
          const bytes = Buffer.from(encodeCbor(v));
          for (const [at, b] of edits) bytes[at % bytes.length] = b;
          onlyCborErrors(bytes);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Cross-check with the AWS SDK's own CBOR codec (@smithy/core/cbor, from @aws-sdk/client-kinesis)
// ---------------------------------------------------------------------------------------------

/**
 * JSON-like values both codecs agree on: no tags, no undefined, no -0 and no bigints, and no
 * "__proto__" key (fast-check offers it now and then; the SDK's decoder assigns keys to a plain
 * object, where that one sets the prototype instead of adding a member).
 */
const { value: plainValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }).filter((n) => !Object.is(n, -0)),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(
      fc.string({ unit: 'binary', maxLength: 10 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 6, noNullPrototype: true },
    ),
  ),
}));

/** Reduces both codecs' outputs to one shape: plain objects and plain Uint8Arrays. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

describe('CBOR against @smithy/core/cbor', () => {
  test('theirs reads what ours writes', () => {
    fc.assert(
      fc.property(plainValue, (v) => {
        assert.deepStrictEqual(normalize(smithyCbor.deserialize(encodeCbor(v))), normalize(v));
      }),
      { numRuns: 1000 },
    );
  });

  test('ours reads what theirs writes', () => {
    fc.assert(
      fc.property(plainValue, (v) => {
        assert.deepStrictEqual(normalize(decodeCbor(smithyCbor.serialize(v))), normalize(v));
      }),
      { numRuns: 1000 },
    );
  });
});

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
