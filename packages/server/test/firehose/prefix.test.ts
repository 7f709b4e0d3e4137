import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileDateFormat, dateFields, deliveryPrefix, errorPrefix, evaluatePrefix, objectSuffix, parsePrefix } from '../../src/firehose/prefix.js';

// 10:30:45.123 UTC on 27 August 2018, a Monday (the developer guide's example instant).
const AT = Date.UTC(2018, 7, 27, 10, 30, 45, 123);
const utc = { atMs: AT, timeZone: 'UTC' };

describe('S3 prefixes', () => {
  it('formats the DateTimeFormatter letters prefixes use', () => {
    const f = dateFields(AT, 'UTC');
    const table: [string, string][] = [
      ['yyyy/MM/dd/HH/', '2018/08/27/10/'],
      ['yy-M-d H:m:s', '18-8-27 10:30:45'],
      ['DDD', '239'],
      ['hh a', '10 AM'],
      ['EEE EEEE', 'Mon Monday'],
      ['MMM MMMM', 'Aug August'],
      ['SSS', '123'],
      ["'year='yyyy'/month='MM", 'year=2018/month=08'],
      ["''yyyy''", "'2018'"],
    ];
    for (const [pattern, want] of table) assert.equal(compileDateFormat(pattern, 'Prefix')(f), want, pattern);
    assert.throws(() => compileDateFormat('yyyy-QQ', 'Prefix'), /unsupported letter 'Q'/);
    assert.throws(() => compileDateFormat("'open", 'Prefix'), /unterminated quote/);
  });

  it('evaluates the developer guide examples', () => {
    assert.equal(evaluatePrefix(deliveryPrefix(undefined), utc), '2018/08/27/10/');
    assert.equal(evaluatePrefix(deliveryPrefix('myFirehosePrefix/'), utc), 'myFirehosePrefix/2018/08/27/10/');
    assert.equal(
      evaluatePrefix(deliveryPrefix('myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/'), utc),
      'myPrefix/year=2018/month=08/day=27/hour=10/',
    );
    assert.equal(
      evaluatePrefix(errorPrefix('x/', "myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}"), {
        ...utc,
        errorType: 'processing-failed',
      }),
      'myErrorPrefix/year=2018/month=08/day=27/hour=10/processing-failed',
    );
    // No ErrorOutputPrefix (Prefix without expressions): <Prefix><type>/yyyy/MM/dd/HH/.
    assert.equal(evaluatePrefix(errorPrefix('logs/', undefined), { ...utc, errorType: 'processing-failed' }), 'logs/processing-failed/2018/08/27/10/');
    const rand = evaluatePrefix(deliveryPrefix('r=!{firehose:random-string}/s=!{firehose:random-string}/'), utc);
    // No timestamp expression: the hourly path is appended.
    const m = /^r=([0-9a-f]{11})\/s=([0-9a-f]{11})\/2018\/08\/27\/10\/$/.exec(rand);
    assert.ok(m, rand);
    assert.notEqual(m[1], m[2], 'every random-string is new');
  });

  it('uses dynamic partition keys and keeps dynamically partitioned prefixes as written', () => {
    const parts = deliveryPrefix('c=!{partitionKeyFromQuery:customer}/k=!{partitionKeyFromLambda:kind}/');
    assert.equal(evaluatePrefix(parts, { ...utc, queryKeys: { customer: 'acme' }, lambdaKeys: { kind: 'x' } }), 'c=acme/k=x/');
    const p = parsePrefix('a/!{partitionKeyFromQuery:x}/!{timestamp:yyyy}', 'Prefix');
    assert.deepEqual([p.hasExpressions, p.hasTimestamp, p.queryKeys, p.lambdaKeys], [true, true, ['x'], []]);
  });

  it('refuses malformed expressions', () => {
    assert.throws(() => parsePrefix('a/!{timestamp:yyyy', 'Prefix'), /!\{ can only appear/);
    assert.throws(() => parsePrefix('!{aws:x}', 'Prefix'), /unknown namespace 'aws'/);
    assert.throws(() => parsePrefix('!{firehose:other}', 'Prefix'), /unknown firehose namespace value/);
    assert.throws(() => parsePrefix('!{partitionKeyFromQuery:}', 'Prefix'), /needs a key name/);
  });

  it('names objects <name>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid>, in the custom time zone', () => {
    assert.match(objectSuffix('orders', 3, AT, 'UTC'), /^orders-3-2018-08-27-10-30-45-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(objectSuffix('orders', 1, AT, 'Asia/Tokyo'), /^orders-1-2018-08-27-19-30-45-/);
    assert.equal(evaluatePrefix(deliveryPrefix(undefined), { atMs: AT, timeZone: 'America/Los_Angeles' }), '2018/08/27/03/');
  });
});
