/**
 * The PutRecords fast path against the generic decoder it stands in for: whatever it accepts, the
 * generic path accepts too and decodes to the same input; whatever the generic path refuses, it
 * leaves alone (returns undefined) so that the generic path sends AWS's error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordBatch, type WriteRequest } from '../../src/core/record-batch.js';
import { fastPutRecordsJson, putRecordsJsonOutput } from '../../src/wire/fast-put-records.js';
import { model } from '../../src/wire/generated/kinesis.js';
import { decodeInput, encodeOutput, validateInput } from '../../src/wire/shapes.js';

/** The generic path: the decoded input, or the error it answers with. */
function generic(body: Buffer): { input: Record<string, unknown> } | { error: string } {
  try {
    const input = decodeInput(model, 'PutRecords', JSON.parse(body.toString('utf8')), 'json');
    validateInput(model, 'PutRecords', input);
    return { input };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Inputs compared with blobs as plain byte arrays. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' ? { bytes: (x as { data: number[] }).data } : x)));
}

/** The records of a batch as objects, as the generic decoder gives them. */
function requests(batch: RecordBatch): WriteRequest[] {
  return Array.from({ length: batch.count }, (_, i) => batch.request(i));
}

function agree(body: Buffer): 'fast' | 'generic' {
  const fast = fastPutRecordsJson(body);
  const slow = generic(body);
  if (fast === undefined) return 'generic';
  assert.ok('input' in slow, `fast path accepted what the generic path refuses (${'error' in slow ? slow.error : ''}): ${body.toString()}`);
  const records = requests(fast.Records);
  assert.deepEqual(plain({ ...fast, Records: records }), plain(slow.input), body.toString());
  for (const r of records) assert.ok(Buffer.isBuffer(r.Data));
  // The columns say the same as the objects built from them.
  assert.deepEqual(plain(requests(RecordBatch.of(records))), plain(records));
  return 'fast';
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('PutRecords fast path', () => {
  it('takes what the SDKs send, decoded exactly as the generic path decodes it', () => {
    const records = Array.from({ length: 500 }, (_, i) => ({ Data: b64(Buffer.alloc(i % 7, i)), PartitionKey: `p-${i}` }));
    assert.equal(agree(Buffer.from(JSON.stringify({ Records: records, StreamName: 'my.stream_1-a' }))), 'fast');
    // Python's json.dumps separators, the other member order, an ExplicitHashKey, no StreamName.
    const spaced = '{"StreamName": "s", "Records": [{"PartitionKey": "k", "ExplicitHashKey": "340282366920938463463374607431768211455", "Data": "AAE="}, {"Data": "", "PartitionKey": "\u007e"}]}';
    assert.equal(agree(Buffer.from(spaced)), 'fast');
    assert.equal(agree(Buffer.from('\n{ "Records" : [ { "Data" : "QQ==" , "PartitionKey" : "0" } ] }\r\n')), 'fast');
  });

  it('leaves every other body to the generic path', () => {
    const cases = [
      '{"Records":[],"StreamName":"s"}',
      '{"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k"}],"StreamName":"a b"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k"}],"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":""}],"StreamName":"s"}',
      `{"Records":[{"Data":"QQ==","PartitionKey":"${'k'.repeat(257)}"}],"StreamName":"s"}`,
      '{"Records":[{"Data":"QQ=","PartitionKey":"k"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QR==","PartitionKey":"k"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QUJ=","PartitionKey":"k"}],"StreamName":"s"}',
      '{"Records":[{"Data":"Q-_=","PartitionKey":"k"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k\\u0041"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"ключ"}],"StreamName":"s"}',
      '{"Records":[{"Data":null,"PartitionKey":"k"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":5}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k","ExplicitHashKey":"01"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k","Other":"x"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k","PartitionKey":"j"}],"StreamName":"s"}',
      '{"Records":[{"PartitionKey":"k"}],"StreamName":"s"}',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k"}],"StreamName":"s"} x',
      '{"Records":[{"Data":"QQ==","PartitionKey":"k"}],"StreamName":"s"',
      '[{"Data":"QQ==","PartitionKey":"k"}]',
      `{"Records":[${Array.from({ length: 501 }, () => '{"Data":"QQ==","PartitionKey":"k"}').join(',')}],"StreamName":"s"}`,
    ];
    for (const c of cases) assert.equal(fastPutRecordsJson(Buffer.from(c)), undefined, c);
  });

  it('stops, and leaves to the generic path, every body cut short or followed by garbage', () => {
    const body = '{"Records":[{"Data":"QUJDRA==","PartitionKey":"k"},{"Data":"QUJD","ExplicitHashKey":"7","PartitionKey":"j"}],"StreamName":"s"}';
    assert.ok(fastPutRecordsJson(Buffer.from(body)) !== undefined);
    for (let n = 0; n < body.length; n++) {
      assert.equal(fastPutRecordsJson(Buffer.from(body.slice(0, n))), undefined, `cut at ${n}`);
      assert.equal(fastPutRecordsJson(Buffer.from(body.slice(0, n) + '\u0000' + body.slice(n + 1))), undefined, `NUL at ${n}`);
    }
    assert.equal(fastPutRecordsJson(Buffer.from(body + 'x')), undefined);
  });

  it('never disagrees with the generic path on generated bodies', () => {
    const ws = fc.constantFrom('', ' ', '\n', ' \t ');
    const str = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom('k', 'a b', '', 'x'.repeat(256), 'x'.repeat(257), 'é', '"', '\\'),
    );
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map(b64),
      fc.constantFrom('', 'QQ==', 'QQ=', 'QR==', 'QUI=', 'QUJ=', 'QUJD', 'Q-_=', 'QQ==QQ==', 'Q Q='),
    );
    const hashKey = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 128n }).map(String), fc.constantFrom('01', '-1', 'x', '', '9'.repeat(40)));
    const goodKey = fc.stringMatching(/^[!-~]{1,20}$/).filter((k) => !k.includes('"') && !k.includes('\\'));
    const good = fc.record(
      { Data: fc.uint8Array({ maxLength: 40 }).map(b64), PartitionKey: goodKey, ExplicitHashKey: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String) },
      { requiredKeys: ['Data', 'PartitionKey'] },
    );
    const odd = fc.record({ Data: data, PartitionKey: str, ExplicitHashKey: hashKey, Extra: str }, { requiredKeys: [] });
    const record = fc.oneof({ weight: 8, arbitrary: good }, { weight: 1, arbitrary: odd });
    const body = fc.tuple(
      fc.record({ Records: fc.array(record, { minLength: 0, maxLength: 3 }), StreamName: fc.oneof(fc.constantFrom('s', 'my-stream.1_a'), str, fc.constantFrom('x'.repeat(129))) }, { requiredKeys: ['Records'] }),
      ws,
      fc.boolean(),
    );
    let fast = 0;
    fc.assert(
      fc.property(body, ([value, space, reorder]) => {
        const ordered = reorder ? Object.fromEntries(Object.entries(value).reverse()) : value;
        const text = JSON.stringify(ordered, null, space.length > 0 ? space : undefined);
        if (agree(Buffer.from(text)) === 'fast') fast++;
      }),
      { numRuns: 2000 },
    );
    assert.ok(fast > 300, `the fast path took ${fast} of 2000 bodies`);
  });

  it('decodes long Data values (their rest by Node\'s decoder, checked by encoding back) exactly as the generic path, and leaves anything not canonical to it', () => {
    // Long enough for the native branch (512 base64 characters and more), then spoiled in each of
    // the ways Node's lenient decoder would let through.
    const spoil = fc.constantFrom('none', 'pad-bits', 'no-pad', 'space', 'newline', 'url', 'escaped-slash', 'bad-char', 'inner-pad', 'quote');
    const value = fc.tuple(fc.uint8Array({ minLength: 384, maxLength: 3000 }), spoil, fc.nat()).map(([bytes, how, at]) => {
      let t = b64(bytes);
      const k = at % t.length;
      switch (how) {
        case 'pad-bits':
          if (t.endsWith('==')) t = t.slice(0, -3) + (t[t.length - 3] === 'A' ? 'B' : 'A') + '==';
          else if (t.endsWith('=')) t = t.slice(0, -2) + (t[t.length - 2] === 'A' ? 'B' : 'A') + '=';
          break;
        case 'no-pad':
          t = t.replace(/=+$/, '');
          break;
        case 'space':
          t = `${t.slice(0, k)} ${t.slice(k)}`;
          break;
        case 'newline':
          t = `${t.slice(0, k)}\\n${t.slice(k)}`;
          break;
        case 'url':
          t = t.replace(/\+/g, '-').replace(/\//g, '_');
          break;
        case 'escaped-slash':
          t = t.replace(/\//g, '\\/');
          break;
        case 'bad-char':
          t = `${t.slice(0, k)}*${t.slice(k + 1)}`;
          break;
        case 'inner-pad':
          t = `${t.slice(0, k - (k % 4))}QQ==${t.slice(k - (k % 4))}`;
          break;
        case 'quote':
          t = `${t.slice(0, k)}\\"${t.slice(k)}`;
          break;
      }
      return t;
    });
    let fast = 0;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 3 }), (values) => {
        const body = `{"StreamName":"s","Records":[${values.map((v, i) => `{"Data":"${v}","PartitionKey":"k${i}"}`).join(',')}]}`;
        if (agree(Buffer.from(body)) === 'fast') fast++;
      }),
      { numRuns: 400 },
    );
    assert.ok(fast > 20, `the fast path took ${fast} of 400 bodies`);
    // A 1 MiB record and 5 of 1 MiB in one call decode to the very bytes sent.
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) >>> 3;
    const got = fastPutRecordsJson(Buffer.from(JSON.stringify({ StreamName: 's', Records: Array.from({ length: 5 }, (_, i) => ({ Data: b64(big), PartitionKey: `k${i}` })) })));
    assert.ok(got !== undefined);
    assert.equal(got.Records.count, 5);
    for (const r of requests(got.Records)) assert.ok(big.equals(r.Data));
  });

  it('answers with the very bytes of the generic encoder', () => {
    const ok = fc.record({ SequenceNumber: fc.stringMatching(/^[1-9][0-9]{55}$/), ShardId: fc.integer({ min: 0, max: 99_999 }).map((i) => `shardId-${String(i).padStart(12, '0')}`) });
    const failed = fc.record({
      ErrorCode: fc.constantFrom('ProvisionedThroughputExceededException', 'InternalFailure'),
      ErrorMessage: fc.oneof(fc.string(), fc.constant('Rate exceeded for shard shardId-000000000001 in stream a.b-c_d under account 123456789012.'), fc.constant('"quoted" \\ é \u2028')),
    });
    const output = fc.record(
      { FailedRecordCount: fc.nat(500), Records: fc.array(fc.oneof(ok, ok, failed), { maxLength: 20 }), EncryptionType: fc.constantFrom('NONE', 'KMS') },
      { requiredKeys: ['FailedRecordCount', 'Records'] },
    );
    fc.assert(
      fc.property(output, (out) => {
        const fast = putRecordsJsonOutput(out);
        assert.ok(fast !== undefined);
        assert.equal(fast.toString('utf8'), encodeOutput(model, 'PutRecords', out, 'json').toString('utf8'));
      }),
      { numRuns: 500 },
    );
    // Anything else is left to the generic encoder.
    assert.equal(putRecordsJsonOutput({ FailedRecordCount: 0, Records: [{ SequenceNumber: 1, ShardId: 'shardId-000000000000' }] }), undefined);
    assert.equal(putRecordsJsonOutput({ Records: [] }), undefined);
  });
});
