/** The exact-number JSON reader and writer the components share: table tests and properties against JSON.parse. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { JsonDecimal, JsonSyntaxError, numberFromLiteral, parseJsonLossless, parseJsonSequence, stringifyJson } from '../../../src/firehose/json-lossless.js';

describe('json-lossless', () => {
  it('keeps integers beyond 2^53 and long decimals exactly', () => {
    const v = parseJsonLossless('{"id":12345678901234567890,"neg":-9007199254740993,"safe":9007199254740991,"price":12345678901234567.25,"small":0.1,"e":1e3}') as Record<string, unknown>;
    assert.equal(v.id, 12345678901234567890n);
    assert.equal(v.neg, -9007199254740993n);
    assert.equal(v.safe, 9007199254740991);
    assert.ok(v.price instanceof JsonDecimal);
    assert.equal(String(v.price), '12345678901234567.25');
    assert.equal(v.small, 0.1);
    assert.equal(v.e, 1000);
    assert.equal(stringifyJson(v), '{"id":12345678901234567890,"neg":-9007199254740993,"safe":9007199254740991,"price":12345678901234567.25,"small":0.1,"e":1000}');
  });

  it('reads number literals', () => {
    const table: [string, unknown][] = [
      ['0', 0],
      ['-0', -0],
      ['123456789012345', 123456789012345],
      ['9007199254740992', 9007199254740992n],
      ['1.5', 1.5],
      ['123456789012345.6', new JsonDecimal('123456789012345.6')],
      ['1e400', new JsonDecimal('1e400')],
      ['2.50', 2.5],
    ];
    for (const [text, want] of table) assert.deepEqual(numberFromLiteral(text), want, text);
  });

  it('parses concatenated and newline-delimited values', () => {
    assert.deepEqual(parseJsonSequence('{"a":1}{"a":2}\n{"a":3} [4] "x"  null'), [{ a: 1 }, { a: 2 }, { a: 3 }, [4], 'x', null]);
    assert.deepEqual(parseJsonSequence('  \n'), []);
  });

  it('rejects what JSON.parse rejects, with a position', () => {
    for (const bad of ['{', '{"a":}', '[1,]', '01', '"\\x"', 'nul', '{"a":1}x', '"a\nb"', '1.', '+1']) {
      assert.throws(() => parseJsonLossless(bad), JsonSyntaxError, bad);
      assert.throws(() => JSON.parse(bad), SyntaxError, bad);
    }
  });

  it('treats "__proto__" as a key', () => {
    const v = parseJsonLossless('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(stringifyJson(v), '{"__proto__":{"polluted":true}}');
  });

  it('agrees with JSON.parse and JSON.stringify on everything a double holds', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const mine = parseJsonLossless(text);
        const theirs = JSON.parse(text) as unknown;
        assert.equal(stringifyJson(mine), JSON.stringify(theirs));
      }),
      { numRuns: 500 },
    );
  });

  it('writes bigints and decimals back with their digits', () => {
    // Decimals with more significant digits than a double holds; ones with 15 or fewer (such as
    // 1000000000000000.0) become numbers of the same value, written in JavaScript's shortest form.
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }), fc.stringMatching(/^[1-9][0-9]{15,30}\.[0-9]{0,9}[1-9]$/), (b, d) => {
        const text = `{"b":${b},"d":${d}}`;
        assert.equal(stringifyJson(parseJsonLossless(text)), text);
      }),
    );
    assert.equal(stringifyJson(parseJsonLossless('{"d":1000000000000000.0}')), '{"d":1000000000000000}');
  });
});
