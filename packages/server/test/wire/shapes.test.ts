import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { AwsError } from '../../src/core/errors.js';
import { CborTagged, decodeCbor, encodeCbor } from '../../src/wire/cbor.js';
import type { ServiceModel, Shape } from '../../src/wire/model.js';
import {
  compilePattern,
  decodeInput,
  encodeOutput,
  encodeShape,
  javaDouble,
  validateInput,
  type WireFormat,
} from '../../src/wire/shapes.js';
import { model as kinesis } from '../../src/wire/generated/kinesis.js';
import { model as firehose } from '../../src/wire/generated/firehose.js';
import { model as kinesisvideo } from '../../src/wire/generated/kinesisvideo.js';
import { model as videoMedia } from '../../src/wire/generated/kinesis-video-media.js';
import { model as archivedMedia } from '../../src/wire/generated/kinesis-video-archived-media.js';
import { model as analytics } from '../../src/wire/generated/kinesisanalytics.js';
import { model as analyticsV2 } from '../../src/wire/generated/kinesisanalyticsv2.js';
import { model as cloudwatch } from '../../src/wire/generated/cloudwatch.js';

const ALL_MODELS: readonly ServiceModel[] = [
  kinesis,
  firehose,
  kinesisvideo,
  videoMedia,
  archivedMedia,
  analytics,
  analyticsV2,
  cloudwatch,
];

/** Decodes and validates as the request pipeline does; returns the input or the AwsError. */
function run(
  model: ServiceModel,
  op: string,
  body: unknown,
  format: WireFormat = 'json',
): Record<string, unknown> | AwsError {
  try {
    const input = decodeInput(model, op, body, format);
    validateInput(model, op, input);
    return input;
  } catch (e) {
    if (e instanceof AwsError) return e;
    throw e;
  }
}

function expectError(result: Record<string, unknown> | AwsError, type: string, message: string | RegExp): void {
  assert.ok(result instanceof AwsError, `expected ${type}, got success: ${JSON.stringify(result)}`);
  assert.equal(result.type, type);
  if (typeof message === 'string') assert.equal(result.message, message);
  else assert.match(result.message, message);
}

type Result = Record<string, unknown> | AwsError;
const serialization = (r: Result, m: string | RegExp) => expectError(r, 'SerializationException', m);
const validation = (r: Result, ...violations: string[]) => {
  const n = violations.length;
  expectError(r, 'ValidationException', `${n} validation error${n === 1 ? '' : 's'} detected: ${violations.join('; ')}`);
};
const violation = (value: string | null, path: string, constraint: string) =>
  `Value ${value === null ? 'null' : `'${value}'`} at '${path}' failed to satisfy constraint: ${constraint}`;
const isAwsError = (type: string) => (e: unknown) => e instanceof AwsError && e.type === type;

// Coral's constraint wording (kinesalite validations/index.js).
const NOT_NULL = 'Member must not be null';
const MIN_LENGTH = (n: number) => `Member must have length greater than or equal to ${n}`;
const MAX_LENGTH = (n: number) => `Member must have length less than or equal to ${n}`;
const MIN_VALUE = (n: number) => `Member must have value greater than or equal to ${n}`;
const MAX_VALUE = (n: number) => `Member must have value less than or equal to ${n}`;
const PATTERN = (p: string) => `Member must satisfy regular expression pattern: ${p}`;
const ENUM = (values: readonly string[]) => `Member must satisfy enum value set: [${values.join(', ')}]`;
const NAME_PATTERN = PATTERN('[a-zA-Z0-9_.-]+');
const NOT_CONVERTIBLE = 'can not be converted to';
const TIMESTAMP_STRING = `class java.lang.String ${NOT_CONVERTIBLE} milliseconds since epoch`;

/**
 * Builds a body with `value` at a dotted path; a '0' segment makes the parent a list
 * (kinesalite helpers.assertType).
 */
function bodyWith(path: string, value: unknown): Record<string, unknown> {
  const pieces = path.split('.');
  const root: Record<string, unknown> = {};
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < pieces.length; i++) {
    const key = Array.isArray(node) ? 0 : pieces[i]!;
    const next = i === pieces.length - 1 ? value : pieces[i + 1] === '0' ? [] : {};
    (node as Record<string | number, unknown>)[key] = next;
    node = next as Record<string, unknown>;
  }
  return root;
}

// The type-mismatch tables of kinesalite test/helpers.js (assertType), recorded against AWS.
const TYPE_CASES: Record<string, readonly (readonly [unknown, string])[]> = {
  String: [
    [true, 'class java.lang.Boolean can not be converted to an String'],
    [23, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String'],
    [-2147483648, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String'],
    [2147483648, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String'],
    [34.56, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Integer: [
    ['23', 'class java.lang.String can not be converted to an Integer'],
    [true, 'class java.lang.Boolean can not be converted to an Integer'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Long: [
    ['23', 'class java.lang.String can not be converted to an Long'],
    [true, 'class java.lang.Boolean can not be converted to an Long'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Double: [
    ['23', 'class java.lang.String can not be converted to an Double'],
    [true, 'class java.lang.Boolean can not be converted to an Double'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Boolean: [
    ['23', "'23' can not be converted to an Boolean"],
    ['hello', "'HELLO' can not be converted to an Boolean"],
    [23, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean'],
    [2147483648, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Blob: [
    [true, 'class java.lang.Boolean can not be converted to a Blob'],
    [23, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob'],
    [-2147483648, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob'],
    [34.56, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
    [
      '23456',
      "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5",
    ],
    ['=+/=', "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"],
    ['+/+=', "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"],
  ],
  Timestamp: [
    ['23', 'class java.lang.String can not be converted to milliseconds since epoch'],
    [true, 'class java.lang.Boolean can not be converted to milliseconds since epoch'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  List: [
    ['23', 'Expected list or null'],
    [true, 'Expected list or null'],
    [23, 'Expected list or null'],
    [-2147483648, 'Expected list or null'],
    [34.56, 'Expected list or null'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Map: [
    ['23', 'Expected map or null'],
    [true, 'Expected map or null'],
    [23, 'Expected map or null'],
    [34.56, 'Expected map or null'],
    [[], 'Start of list found where not expected'],
  ],
  Structure: [
    ['23', 'Expected null'],
    [true, 'Expected null'],
    [23, 'Expected null'],
    [34.56, 'Expected null'],
    [[], 'Start of list found where not expected'],
  ],
};

const MEMBERS_BY_TYPE: readonly (readonly [ServiceModel, string, string, keyof typeof TYPE_CASES])[] = [
  [kinesis, 'CreateStream', 'StreamName', 'String'],
  [kinesis, 'PutRecords', 'Records.0.PartitionKey', 'String'],
  [kinesis, 'PutRecords', 'Records.0.ExplicitHashKey', 'String'],
  [kinesis, 'CreateStream', 'ShardCount', 'Integer'],
  [kinesis, 'GetRecords', 'Limit', 'Integer'],
  [analytics, 'AddApplicationCloudWatchLoggingOption', 'CurrentApplicationVersionId', 'Long'],
  [cloudwatch, 'PutMetricData', 'MetricData.0.Value', 'Double'],
  [kinesis, 'DeleteStream', 'EnforceConsumerDeletion', 'Boolean'],
  [kinesis, 'PutRecord', 'Data', 'Blob'],
  [kinesis, 'PutRecords', 'Records.0.Data', 'Blob'],
  [kinesis, 'GetShardIterator', 'Timestamp', 'Timestamp'],
  [kinesis, 'ListShards', 'StreamCreationTimestamp', 'Timestamp'],
  [kinesis, 'PutRecords', 'Records', 'List'],
  [kinesis, 'RemoveTagsFromStream', 'TagKeys', 'List'],
  [kinesis, 'AddTagsToStream', 'Tags', 'Map'],
  [kinesis, 'PutRecords', 'Records.0', 'Structure'],
  [kinesis, 'CreateStream', 'StreamModeDetails', 'Structure'],
  [kinesis, 'ListShards', 'ShardFilter', 'Structure'],
];

describe('generated models', () => {
  it('carry the metadata the router needs', () => {
    assert.equal(kinesis.targetPrefix, 'Kinesis_20131202');
    assert.equal(kinesis.protocol, 'json');
    assert.equal(kinesis.jsonVersion, '1.1');
    assert.equal(firehose.targetPrefix, 'Firehose_20150804');
    assert.equal(analytics.targetPrefix, 'KinesisAnalytics_20150814');
    assert.equal(kinesisvideo.protocol, 'rest-json');
    assert.equal(kinesisvideo.targetPrefix, '');
    assert.deepEqual(kinesisvideo.operations.CreateStream.http, { method: 'POST', requestUri: '/createStream' });
    assert.equal(cloudwatch.jsonVersion, '1.0');
    assert.deepEqual(videoMedia.shapes.GetMediaOutput.members.ContentType, {
      shape: 'ContentType',
      location: 'header',
      locationName: 'Content-Type',
    });
    assert.equal(kinesisvideo.shapes.AccessDeniedException.error?.httpStatusCode, 401);
  });

  it('keep member order as in the model (violations are reported in it)', () => {
    const members = Object.keys(kinesis.shapes.PutRecordsRequestEntry.members);
    assert.deepEqual(members, ['Data', 'ExplicitHashKey', 'PartitionKey']);
  });

  it('print ShardIteratorType in the order AWS does (kinesalite getShardIterator test)', () => {
    assert.deepEqual(kinesis.shapes.ShardIteratorType.enum, [
      'AFTER_SEQUENCE_NUMBER',
      'LATEST',
      'AT_TIMESTAMP',
      'AT_SEQUENCE_NUMBER',
      'TRIM_HORIZON',
    ]);
  });

  it('refer only to shapes they define', () => {
    for (const model of ALL_MODELS) {
      const has = (n: string) => assert.ok(Object.hasOwn(model.shapes, n), `${model.serviceId}: ${n}`);
      for (const op of Object.values(model.operations)) {
        if (op.input !== undefined) has(op.input);
        if (op.output !== undefined) has(op.output);
        op.errors.forEach(has);
      }
    }
  });

  it('have patterns that all compile as JS regexes', () => {
    let count = 0;
    for (const model of ALL_MODELS) {
      for (const shape of Object.values(model.shapes) as Shape[]) {
        if (shape.type === 'string' && shape.pattern !== undefined) {
          assert.doesNotThrow(() => compilePattern(shape.pattern!), shape.pattern);
          count++;
        }
      }
    }
    assert.ok(count > 50);
  });
});

describe('Java regexes', () => {
  const cases: readonly (readonly [string, string, boolean])[] = [
    ['[a-zA-Z0-9_.-]+', 'my-stream_1.a', true],
    ['[a-zA-Z0-9_.-]+', 'a b', false],
    ['[a-zA-Z0-9_.-]+', '', false],
    ['0|([1-9]\\d{0,38})', '0', true],
    ['0|([1-9]\\d{0,38})', '01', false],
    ['0|([1-9]\\d{0,38})', '340282366920938463463374607431768211455', true],
    // Possessive quantifiers (kinesisanalytics ApplicationARN pattern).
    [
      'arn:aws:kinesisanalytics:[a-z]{2}-[a-z]+-\\d{1}+:\\d{12}+:application/[a-zA-Z0-9_.-]{1,128}',
      'arn:aws:kinesisanalytics:us-east-1:123456789012:application/app',
      true,
    ],
    // \_ is an identity escape Java allows and JS's u mode does not.
    ['[a-zA-Z0-9\\.\\_]+', 'a_b.c', true],
    // Unicode property classes (tag patterns).
    ['^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$', 'Straße 1', true],
    ['^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$', 'a;b', false],
    // Lookbehind (Firehose Redshift JDBC URL).
    [
      'jdbc:(redshift|postgresql)://((?!-)[A-Za-z0-9-]{1,63}(?<!-)\\.)+(redshift(-serverless)?)\\.([a-zA-Z0-9\\.\\-]+):\\d{1,5}/[a-zA-Z0-9_$-]+',
      'jdbc:redshift://a.b.redshift.amazonaws.com:5439/dev',
      true,
    ],
    // Alternation is anchored as a whole (Matcher.matches).
    ['^$|[a-zA-Z/_]+', 'ab1', false],
  ];
  for (const [pattern, value, matches] of cases) {
    it(`${pattern} ${matches ? 'matches' : 'rejects'} ${JSON.stringify(value)}`, () => {
      assert.equal(compilePattern(pattern).test(value), matches);
    });
  }
});

describe('decodeInput: type mismatches (kinesalite assertType)', () => {
  for (const [model, op, path, type] of MEMBERS_BY_TYPE) {
    it(`${model.serviceId} ${op} ${path} is a ${type}`, () => {
      for (const [value, message] of TYPE_CASES[type]!) {
        serialization(run(model, op, bodyWith(path, value)), message);
      }
    });
  }
});

describe('decodeInput: JSON values', () => {
  it('refuses a body that is not an object', () => {
    for (const body of [null, undefined, 'a', 5, true]) serialization(run(kinesis, 'ListStreams', body), '');
    serialization(run(kinesis, 'ListStreams', []), 'Start of list found where not expected');
  });

  it('drops unknown members and treats null as absent', () => {
    const body = { StreamName: 'a', Bogus: 1, Limit: null, streamName: 'b' };
    const input = decodeInput(kinesis, 'DescribeStream', body, 'json');
    assert.deepEqual(input, { StreamName: 'a' });
  });

  it('answers an unknown operation with UnknownOperationException', () => {
    assert.throws(() => decodeInput(kinesis, 'Nope', {}, 'json'), isAwsError('UnknownOperationException'));
    assert.throws(() => decodeInput(kinesis, 'toString', {}, 'json'), isAwsError('UnknownOperationException'));
  });

  it('decodes blobs from base64 into Buffers', () => {
    const input = decodeInput(kinesis, 'PutRecord', { StreamName: 's', PartitionKey: 'p', Data: 'aGVsbG8=' }, 'json');
    assert.ok(Buffer.isBuffer(input.Data));
    assert.equal((input.Data as Buffer).toString(), 'hello');
    const empty = decodeInput(kinesis, 'PutRecord', { StreamName: 's', PartitionKey: 'p', Data: '' }, 'json');
    assert.equal((empty.Data as Buffer).length, 0);
  });

  it('refuses base64 that is not canonical', () => {
    const msg = (s: string, why: string) => `'${s}' can not be converted to a Blob: ${why}`;
    const cases: readonly (readonly [string, string])[] = [
      ['aGk', msg('aGk', 'Base64 encoded length is expected a multiple of 4 bytes but found: 3')],
      ['aG-_', msg('aG-_', "Invalid Base64 character: '-'")],
      ['aG k', msg('aG k', "Invalid Base64 character: ' '")],
      ['a=bc', msg('a=bc', "Invalid Base64 character: '='")],
      ['aGl=', msg('aGl=', 'Invalid last non-pad Base64 character dectected')],
      ['aR==', msg('aR==', 'Invalid last non-pad Base64 character dectected')],
      ['a===', msg('a===', 'Invalid last non-pad Base64 character dectected')],
    ];
    for (const [data, message] of cases) {
      serialization(run(kinesis, 'PutRecord', { StreamName: 's', PartitionKey: 'p', Data: data }), message);
    }
  });

  it('truncates and saturates integers as Coral does', () => {
    assert.equal(decodeInput(kinesis, 'GetRecords', { ShardIterator: 'i', Limit: 2.9 }, 'json').Limit, 2);
    assert.equal(decodeInput(kinesis, 'GetRecords', { ShardIterator: 'i', Limit: 1e11 }, 'json').Limit, 2147483647);
    assert.equal(decodeInput(kinesis, 'GetRecords', { ShardIterator: 'i', Limit: -1e11 }, 'json').Limit, -2147483648);
    // kinesalite createStream test: the saturated value is what the message shows.
    validation(
      run(kinesis, 'GetRecords', { ShardIterator: 'i', Limit: 100000000000 }),
      violation('2147483647', 'limit', MAX_VALUE(10000)),
    );
  });

  it('reads booleans, including the strings AWS accepts', () => {
    const decode = (v: unknown) =>
      decodeInput(kinesis, 'DeleteStream', { EnforceConsumerDeletion: v }, 'json').EnforceConsumerDeletion;
    assert.equal(decode(true), true);
    assert.equal(decode('true'), true);
    assert.equal(decode('YES'), true);
    assert.equal(decode('0'), false);
  });

  it('reads timestamps as epoch seconds or ISO-8601 into epoch milliseconds', () => {
    const body = (v: unknown) => ({ ShardId: 's', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: v });
    const ts = (v: unknown) => decodeInput(kinesis, 'GetShardIterator', body(v), 'json').Timestamp;
    assert.equal(ts(1459799926.48), 1459799926480);
    assert.equal(ts(1459799926), 1459799926000);
    assert.equal(ts(1.441215410867e9), 1441215410867);
    assert.equal(ts('2016-04-04T19:58:46.480-00:00'), 1459799926480);
    assert.equal(ts('2016-04-04T19:58:46.480Z'), 1459799926480);
    assert.equal(ts('2016-04-04T21:58:46+02:00'), 1459799926000);
    assert.equal(ts('2016-04-04T19:58:46'), 1459799926000);
    for (const bad of ['23', '1459799926.48', '2016-02-30T00:00:00Z', 'yesterday']) {
      serialization(run(kinesis, 'GetShardIterator', body(bad)), TIMESTAMP_STRING);
    }
  });

  it('keeps map keys that collide with Object.prototype as keys', () => {
    const body: unknown = JSON.parse('{"StreamName":"s","Tags":{"__proto__":"x","constructor":"y"}}');
    const input = decodeInput(kinesis, 'AddTagsToStream', body, 'json');
    const tags = input.Tags as Record<string, unknown>;
    assert.deepEqual(Object.keys(tags), ['__proto__', 'constructor']);
    assert.equal(Object.getPrototypeOf(tags), Object.prototype);
  });
});

describe('decodeInput: CBOR values', () => {
  const viaCbor = (op: string, body: unknown) => decodeInput(kinesis, op, decodeCbor(encodeCbor(body)), 'cbor');

  it('takes byte strings for blobs (and base64 text, as kinesalite does)', () => {
    const input = viaCbor('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: Buffer.from([0, 1, 255]) });
    assert.deepEqual(input.Data, Buffer.from([0, 1, 255]));
    const text = viaCbor('PutRecord', { StreamName: 's', PartitionKey: 'p', Data: 'AAH/' });
    assert.deepEqual(text.Data, Buffer.from([0, 1, 255]));
  });

  it('reads the timestamp forms clients send', () => {
    const ts = (v: unknown) =>
      viaCbor('GetShardIterator', { ShardId: 's', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: v }).Timestamp;
    // Java SDK v1/v2: tag 1 + integer epoch milliseconds.
    assert.equal(ts(new CborTagged(1, 1459799926480)), 1459799926480);
    // RFC 8949 / Smithy rpcv2Cbor: tag 1 + seconds, fractional or integral.
    assert.equal(ts(new CborTagged(1, 1459799926.48)), 1459799926480);
    assert.equal(ts(new CborTagged(1, 1459799926)), 1459799926000);
    // Untagged numbers.
    assert.equal(ts(1459799926480), 1459799926480);
    assert.equal(ts(1459799926.5), 1459799926500);
    // Tag 0: an RFC 3339 string.
    assert.equal(ts(new CborTagged(0, '2016-04-04T19:58:46.480Z')), 1459799926480);
  });

  it('takes 64-bit integers and unwraps unexpected tags', () => {
    assert.equal(viaCbor('GetRecords', { ShardIterator: 'i', Limit: 10n ** 12n }).Limit, 2147483647);
    assert.equal(viaCbor('GetRecords', { ShardIterator: new CborTagged(99, 'it') }).ShardIterator, 'it');
  });

  it('refuses byte strings where text belongs', () => {
    assert.throws(
      () => viaCbor('DescribeStream', { StreamName: Buffer.from('s') }),
      (e: unknown) => isAwsError('SerializationException')(e) && /can not be converted to an String/.test(String(e)),
    );
  });

  it('accepts Map bodies, using only their text keys', () => {
    const body = new Map<unknown, unknown>([['StreamName', 's'], [1, 'x']]);
    assert.deepEqual(decodeInput(kinesis, 'DescribeStream', body, 'cbor'), { StreamName: 's' });
  });
});

describe('validateInput (kinesalite validation tests, current model)', () => {
  it('reports a missing required member', () => {
    validation(run(kinesis, 'PutRecords', {}), violation(null, 'records', NOT_NULL));
    validation(
      run(kinesis, 'GetShardIterator', {}),
      violation(null, 'shardId', NOT_NULL),
      violation(null, 'shardIteratorType', NOT_NULL),
    );
  });

  it('reports several violations of one member in pattern, min, max order', () => {
    validation(
      run(kinesis, 'PutRecords', { StreamName: '', Records: [] }),
      violation('[]', 'records', MIN_LENGTH(1)),
      violation('', 'streamName', NAME_PATTERN),
      violation('', 'streamName', MIN_LENGTH(1)),
    );
  });

  it('renders nested list paths 1-based with .member', () => {
    validation(
      run(kinesis, 'PutRecords', { StreamName: '', Records: [{ PartitionKey: '', Data: '', ExplicitHashKey: '' }] }),
      violation('', 'records.1.member.explicitHashKey', PATTERN('0|([1-9]\\d{0,38})')),
      violation('', 'records.1.member.partitionKey', MIN_LENGTH(1)),
      violation('', 'streamName', NAME_PATTERN),
      violation('', 'streamName', MIN_LENGTH(1)),
    );
    validation(
      run(kinesis, 'PutRecords', { Records: [{ PartitionKey: 'a', Data: 'AA==' }, null, { Data: 'AA==' }] }),
      violation(null, 'records.2.member', NOT_NULL),
      violation(null, 'records.3.member.partitionKey', NOT_NULL),
    );
  });

  it('renders deeper paths through structures and lists', () => {
    const body = {
      ApplicationName: 'app',
      Inputs: [
        {
          NamePrefix: 'p',
          InputSchema: {
            RecordFormat: { RecordFormatType: 'XML' },
            RecordColumns: [{ Name: 'a' }, { Name: 'b', SqlType: '' }],
          },
        },
      ],
    };
    const schema = 'inputs.1.member.inputSchema';
    validation(
      run(analytics, 'CreateApplication', body),
      violation('XML', `${schema}.recordFormat.recordFormatType`, ENUM(['JSON', 'CSV'])),
      violation(null, `${schema}.recordColumns.1.member.sqlType`, NOT_NULL),
      violation('', `${schema}.recordColumns.2.member.sqlType`, MIN_LENGTH(1)),
    );
  });

  it('lists at most 10 violations, and counts only those (kinesalite putRecords test)', () => {
    const records = Array.from({ length: 501 }, () => ({ PartitionKey: '', Data: '' }));
    const result = run(kinesis, 'PutRecords', { StreamName: '', Records: records });
    const entry = /^com\.amazonaws\.kinesis\.v20131202\.PutRecordsRequestEntry@[0-9a-f]+$/;
    assert.ok(result instanceof AwsError);
    assert.equal(result.type, 'ValidationException');
    const prefix = '10 validation errors detected: ';
    assert.ok(result.message.startsWith(prefix));
    const parts = result.message.slice(prefix.length).split('; ');
    const first = /^Value '\[(.*)\]' at 'records' failed to satisfy constraint: (.*)$/.exec(parts[0] ?? '');
    assert.equal(first?.[2], MAX_LENGTH(500));
    assert.ok(first, 'list length violation comes first');
    const items = first[1]!.split(', ');
    assert.equal(items.length, 501);
    assert.ok(items.every((i) => entry.test(i)));
    assert.deepEqual(
      parts.slice(1),
      Array.from({ length: 9 }, (_, i) => violation('', `records.${i + 1}.member.partitionKey`, MIN_LENGTH(1))),
    );
  });

  it('prints enum value sets', () => {
    validation(
      run(kinesis, 'GetShardIterator', { StreamName: 'a', ShardId: 'a', ShardIteratorType: 'SOMETIME' }),
      violation(
        'SOMETIME',
        'shardIteratorType',
        ENUM(['AFTER_SEQUENCE_NUMBER', 'LATEST', 'AT_TIMESTAMP', 'AT_SEQUENCE_NUMBER', 'TRIM_HORIZON']),
      ),
    );
  });

  it('checks numbers against min and max', () => {
    validation(run(kinesis, 'GetRecords', { ShardIterator: 'i', Limit: 0 }), violation('0', 'limit', MIN_VALUE(1)));
    // kinesalite createStream test (the model has since dropped ShardCount's maximum).
    validation(run(kinesis, 'CreateStream', { StreamName: 's', ShardCount: 0 }), violation('0', 'shardCount', MIN_VALUE(1)));
    validation(
      run(analytics, 'AddApplicationCloudWatchLoggingOption', {
        ApplicationName: 'a',
        CurrentApplicationVersionId: 1e10,
        CloudWatchLoggingOption: { LogStreamARN: 'arn:aws:logs:x', RoleARN: 'arn:aws:iam::123456789012:role/r' },
      }),
      violation('10000000000', 'currentApplicationVersionId', MAX_VALUE(999999999)),
    );
  });

  it('measures blobs in bytes and renders them as HeapByteBuffers', () => {
    const input = { StreamName: 's', PartitionKey: 'p', Data: Buffer.alloc(10 * 1024 * 1024 + 1) };
    const buffer = 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]';
    assert.throws(() => validateInput(kinesis, 'PutRecord', input), {
      message: `1 validation error detected: ${violation(buffer, 'data', MAX_LENGTH(10485760))}`,
    });
  });

  it('measures strings in code points', () => {
    const ok = run(kinesis, 'PutRecord', { StreamName: 's', Data: '', PartitionKey: '😀'.repeat(256) });
    assert.ok(!(ok instanceof AwsError));
    const long = '😀'.repeat(257);
    const put = (key: string) => run(kinesis, 'PutRecord', { StreamName: 's', Data: '', PartitionKey: key });
    validation(put(long), violation(long, 'partitionKey', MAX_LENGTH(256)));
    validation(put(''), violation('', 'partitionKey', MIN_LENGTH(1)));
  });

  it('reports list member constraints on the list, in brackets (kinesalite removeTagsFromStream test)', () => {
    const long = 'b'.repeat(129);
    validation(
      run(kinesis, 'RemoveTagsFromStream', { StreamName: 's', TagKeys: ['a', long, 'c'] }),
      violation(`[a, ${long}, c]`, 'tagKeys', `Member must satisfy constraint: [${MAX_LENGTH(128)}, ${MIN_LENGTH(1)}]`),
    );
    validation(
      run(kinesis, 'EnableEnhancedMonitoring', { StreamName: 's', ShardLevelMetrics: ['IncomingBytes', 'Foo'] }),
      violation(
        '[IncomingBytes, Foo]',
        'shardLevelMetrics',
        `Member must satisfy constraint: [${ENUM([
          'IncomingBytes',
          'IncomingRecords',
          'OutgoingBytes',
          'OutgoingRecords',
          'WriteProvisionedThroughputExceeded',
          'ReadProvisionedThroughputExceeded',
          'IteratorAgeMilliseconds',
          'ALL',
        ])}]`,
      ),
    );
  });

  it('reports map key and value constraints on the map (kinesalite addTagsToStream tests)', () => {
    const longKey = 'k'.repeat(129);
    validation(
      run(kinesis, 'AddTagsToStream', { StreamName: 's', Tags: { a: '1', [longKey]: '3' } }),
      violation(`{a=1, ${longKey}=3}`, 'tags', `Map keys must satisfy constraint: [${MAX_LENGTH(128)}, ${MIN_LENGTH(1)}]`),
    );
    const longValue = 'v'.repeat(257);
    validation(
      run(kinesis, 'AddTagsToStream', { StreamName: 's', Tags: { a: '1', c: longValue } }),
      violation(`{a=1, c=${longValue}}`, 'tags', `Map value must satisfy constraint: [${MAX_LENGTH(256)}, ${MIN_LENGTH(0)}]`),
    );
    validation(run(kinesis, 'AddTagsToStream', { StreamName: 's', Tags: {} }), violation('{}', 'tags', MIN_LENGTH(1)));
  });

  it('validates inputs that did not come through decodeInput without throwing on odd values', () => {
    assert.doesNotThrow(() => validateInput(kinesis, 'PutRecords', { Records: [{ Data: 5, PartitionKey: [] }] }));
  });
});

describe('validateInput on a synthetic model (map paths, recursion, doubles)', () => {
  const model: ServiceModel = {
    targetPrefix: 'Test_20200101',
    protocol: 'json',
    protocols: ['json'],
    jsonVersion: '1.1',
    apiVersion: '2020-01-01',
    endpointPrefix: 'test',
    serviceId: 'Test',
    operations: { Op: { name: 'Op', input: 'In', output: 'Out', errors: [] } },
    shapes: {
      In: {
        type: 'structure',
        required: ['Items'],
        members: {
          Items: { shape: 'ItemMap' },
          Tree: { shape: 'Node' },
          Ratio: { shape: 'Ratio' },
          When: { shape: 'When' },
        },
      },
      ItemMap: { type: 'map', key: 'Key', value: 'Item' },
      Key: { type: 'string', min: 1, max: 3, pattern: '[a-z]+' },
      Item: { type: 'structure', required: ['Id'], members: { Id: { shape: 'Id' } } },
      Id: { type: 'string', min: 2 },
      Node: { type: 'structure', members: { Name: { shape: 'Id' }, Children: { shape: 'NodeList' } } },
      NodeList: { type: 'list', member: 'Node' },
      Ratio: { type: 'double', min: 0, max: 1 },
      When: { type: 'timestamp' },
      Out: { type: 'structure', members: { When: { shape: 'When' }, Ratio: { shape: 'Ratio' } } },
    },
  };

  it('paths into map values read <map>.<key>.member (dynalite batchWriteItem)', () => {
    validation(run(model, 'Op', { Items: { ab: {} } }), violation(null, 'items.ab.member.id', NOT_NULL));
    validation(run(model, 'Op', { Items: { ab: { Id: 'x' } } }), violation('x', 'items.ab.member.id', MIN_LENGTH(2)));
  });

  it('map key constraints list max, min and pattern (dynalite batchWriteItem)', () => {
    expectError(
      run(model, 'Op', { Items: { ABCD: { Id: 'xx' } } }),
      'ValidationException',
      new RegExp(
        "^1 validation error detected: Value '\\{ABCD=com\\.amazonaws\\.test\\.v20200101\\.Item@[0-9a-f]+\\}' at 'items' " +
          'failed to satisfy constraint: Map keys must satisfy constraint: ' +
          `${escapeRegExp(`[${MAX_LENGTH(3)}, ${MIN_LENGTH(1)}, ${PATTERN('[a-z]+')}]`)}$`,
      ),
    );
  });

  it('follows recursive shapes', () => {
    validation(
      run(model, 'Op', { Items: {}, Tree: { Name: 'root', Children: [{ Children: [{ Name: 'b' }] }] } }),
      violation('b', 'tree.children.1.member.children.1.member.name', MIN_LENGTH(2)),
    );
  });

  it('renders doubles as Java does', () => {
    validation(run(model, 'Op', { Items: {}, Ratio: 1.5 }), violation('1.5', 'ratio', MAX_VALUE(1)));
    validation(run(model, 'Op', { Items: {}, Ratio: 2 }), violation('2.0', 'ratio', MAX_VALUE(1)));
    assert.equal(javaDouble(1e10), '1.0E10');
    assert.equal(javaDouble(1.5e-5), '1.5E-5');
    assert.equal(javaDouble(-0.25), '-0.25');
  });

  it('encodes timestamps of any shape as epoch seconds or tag 1 milliseconds', () => {
    const json = (v: Record<string, unknown>) => encodeOutput(model, 'Op', v, 'json').toString();
    assert.equal(json({ When: 1500000000123, Ratio: 0.5 }), '{"When":1500000000.123,"Ratio":0.5}');
    assert.equal(json({ When: new Date(1500000000000) }), '{"When":1500000000}');
    const cbor = decodeCbor(encodeOutput(model, 'Op', { When: 1500000000123 }, 'cbor')) as Record<string, unknown>;
    assert.deepEqual(cbor.When, new CborTagged(1, 1500000000123));
  });
});

describe('encodeOutput', () => {
  const record = {
    SequenceNumber: '49546986683135544286507457936321625675700192471156785154',
    ApproximateArrivalTimestamp: 1441215410867,
    Data: Buffer.from('hello'),
    PartitionKey: 'pk',
    EncryptionType: 'NONE',
  };

  it('writes GetRecords as AWS does: base64 data, epoch seconds', () => {
    const output = { Records: [record], NextShardIterator: 'AAAA', MillisBehindLatest: 0 };
    assert.equal(
      encodeOutput(kinesis, 'GetRecords', output, 'json').toString(),
      '{"Records":[{"SequenceNumber":"49546986683135544286507457936321625675700192471156785154",' +
        '"ApproximateArrivalTimestamp":1441215410.867,"Data":"aGVsbG8=","PartitionKey":"pk","EncryptionType":"NONE"}],' +
        '"NextShardIterator":"AAAA","MillisBehindLatest":0}',
    );
  });

  it('leaves out undefined members and unknown ones, and keeps null where the caller put it', () => {
    const output = { Records: [], NextShardIterator: null, MillisBehindLatest: undefined, Extra: 1 };
    assert.equal(encodeOutput(kinesis, 'GetRecords', output, 'json').toString(), '{"Records":[],"NextShardIterator":null}');
  });

  it('writes an empty body for operations without output', () => {
    assert.equal(encodeOutput(kinesis, 'CreateStream', undefined, 'json').length, 0);
    assert.equal(encodeOutput(kinesis, 'CreateStream', undefined, 'cbor').length, 0);
    assert.equal(encodeOutput(kinesis, 'ListStreams', undefined, 'json').toString(), '{}');
  });

  it('escapes strings that need it and keeps non-ASCII intact', () => {
    const odd = 'q"b\\s\n\u0001é😀\ud800' + 'x'.repeat(40);
    const body = encodeOutput(kinesis, 'GetShardIterator', { ShardIterator: odd }, 'json');
    assert.deepEqual(JSON.parse(body.toString()), { ShardIterator: odd });
    const short = encodeOutput(kinesis, 'GetShardIterator', { ShardIterator: 'é"' }, 'json');
    assert.deepEqual(JSON.parse(short.toString()), { ShardIterator: 'é"' });
  });

  it('base64-encodes blobs of every length', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 1023, 1024, 1025, 5000]) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) & 255));
      const bytes = encodeOutput(kinesis, 'GetRecords', { Records: [{ ...record, Data: data }] }, 'json');
      const body = JSON.parse(bytes.toString()) as { Records: { Data: string }[] };
      assert.equal(body.Records[0]!.Data, data.toString('base64'));
    }
  });

  it('writes CBOR with byte strings and tag 1 epoch milliseconds', () => {
    const bytes = encodeOutput(kinesis, 'GetRecords', { Records: [record], MillisBehindLatest: 5 }, 'cbor');
    const body = decodeCbor(bytes) as { Records: Record<string, unknown>[]; MillisBehindLatest: number };
    const r = body.Records[0]!;
    assert.deepEqual(r.Data, Buffer.from('hello'));
    assert.deepEqual(r.ApproximateArrivalTimestamp, new CborTagged(1, 1441215410867));
    assert.equal(body.MillisBehindLatest, 5);
  });

  it('leaves the event stream out of SubscribeToShard and encodes events on their own', () => {
    assert.equal(encodeOutput(kinesis, 'SubscribeToShard', { EventStream: {} }, 'json').toString(), '{}');
    const value = { Records: [], ContinuationSequenceNumber: '1', MillisBehindLatest: 0 };
    const event = encodeShape(kinesis, 'SubscribeToShardEvent', value, 'json');
    assert.equal(event.toString(), '{"Records":[],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}');
  });

  it('writes a REST-JSON blob payload raw and header members not at all', () => {
    const payload = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
    const media = encodeOutput(videoMedia, 'GetMedia', { ContentType: 'video/webm', Payload: payload }, 'json');
    assert.deepEqual(media, payload);
    const session = { HLSStreamingSessionURL: 'https://x' };
    const url = encodeOutput(archivedMedia, 'GetHLSStreamingSessionURL', session, 'json');
    assert.equal(url.toString(), '{"HLSStreamingSessionURL":"https://x"}');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/** Bodies shaped like the model's input, with a wrong type or a null here and there. */
function shapeArbitrary(model: ServiceModel): (name: string) => fc.Arbitrary<unknown> {
  const memo = new Map<string, fc.Arbitrary<unknown>>();
  const wrong = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant(null));
  const build = (name: string, depth: number): fc.Arbitrary<unknown> => {
    const key = `${name}@${depth}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const shape = model.shapes[name]!;
    let right: fc.Arbitrary<unknown>;
    switch (shape.type) {
      case 'structure': {
        if (depth > 3) {
          right = fc.constant({});
          break;
        }
        const members: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [m, ref] of Object.entries(shape.members)) members[m] = build(ref.shape, depth + 1);
        right = fc.record(members, { requiredKeys: [] });
        break;
      }
      case 'list':
        right = depth > 3 ? fc.constant([]) : fc.array(build(shape.member, depth + 1), { maxLength: 3 });
        break;
      case 'map':
        right =
          depth > 3
            ? fc.constant({})
            : fc.dictionary(fc.string({ maxLength: 4 }), build(shape.value, depth + 1), { maxKeys: 3 });
        break;
      case 'string':
        right = shape.enum !== undefined ? fc.oneof(fc.constantFrom(...shape.enum), fc.string()) : fc.string();
        break;
      case 'integer':
      case 'long':
        right = fc.oneof(fc.integer(), fc.double());
        break;
      case 'double':
      case 'float':
        right = fc.double();
        break;
      case 'boolean':
        right = fc.oneof(fc.boolean(), fc.constantFrom('true', 'no', 'maybe'));
        break;
      case 'blob':
        right = fc.oneof(fc.base64String(), fc.string());
        break;
      case 'timestamp':
        right = fc.oneof(fc.double(), fc.string(), fc.constant('2020-01-01T00:00:00Z'));
        break;
    }
    const arb = fc.oneof({ arbitrary: right, weight: 8 }, { arbitrary: wrong, weight: 1 });
    memo.set(key, arb);
    return arb;
  };
  return (name) => build(name, 0);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function onlyAwsErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AwsError, `threw ${String(e)}`);
    assert.ok(e.type === 'SerializationException' || e.type === 'ValidationException', e.type);
    if (e.type === 'ValidationException') {
      const n = Number(/^(\d+) validation errors? detected: /.exec(e.message)?.[1]);
      assert.ok(n >= 1 && n <= 10, e.message);
    }
  }
}

describe('properties', () => {
  it('arbitrary JSON bodies never throw anything but SerializationException or ValidationException', () => {
    for (const model of ALL_MODELS) {
      const ops = Object.values(model.operations).filter((o) => o.input !== undefined).map((o) => o.name);
      fc.assert(
        fc.property(fc.constantFrom(...ops), fc.jsonValue(), (op, body) => {
          onlyAwsErrors(() => validateInput(model, op, decodeInput(model, op, body, 'json')));
        }),
        { numRuns: 200 },
      );
    }
  });

  it('shape-guided bodies with type errors never throw anything else, for every operation', () => {
    for (const model of ALL_MODELS) {
      const arb = shapeArbitrary(model);
      for (const op of Object.values(model.operations)) {
        if (op.input === undefined) continue;
        fc.assert(
          fc.property(arb(op.input), fc.constantFrom<WireFormat>('json', 'cbor'), (body, format) => {
            onlyAwsErrors(() => validateInput(model, op.name, decodeInput(model, op.name, body, format)));
          }),
          { numRuns: 15 },
        );
      }
    }
  });

  it('arbitrary CBOR-ish values (bigints, Maps, byte strings, odd prototypes) never crash decoding', () => {
    const anything = fc.anything({
      withBigInt: true,
      withMap: true,
      withSet: true,
      withDate: true,
      withTypedArray: true,
      withNullPrototype: true,
      withBoxedValues: true,
      withSparseArray: true,
    });
    const ops = Object.keys(kinesis.operations);
    const keys = fc.constantFrom('StreamName', 'Records', 'Data', 'Tags', 'Timestamp', 'Limit', 'ShardFilter', 'x');
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.dictionary(keys, anything), (op, body) => {
        onlyAwsErrors(() => validateInput(kinesis, op, decodeInput(kinesis, op, body, 'cbor')));
      }),
      { numRuns: 500 },
    );
  });

  const putRecordsInput = (text: fc.Arbitrary<string>) =>
    fc.record(
      {
        StreamName: text,
        Records: fc.array(
          fc.record(
            {
              Data: fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
              PartitionKey: text,
              ExplicitHashKey: text,
            },
            { requiredKeys: ['Data', 'PartitionKey'], noNullPrototype: true },
          ),
          { maxLength: 5 },
        ),
      },
      { requiredKeys: ['Records'], noNullPrototype: true },
    );

  it('JSON round trip: encodeShape then decodeInput gives the input back', () => {
    fc.assert(
      fc.property(putRecordsInput(fc.string({ unit: 'binary', maxLength: 20 })), (input) => {
        const text = encodeShape(kinesis, 'PutRecordsInput', input, 'json').toString('utf8');
        assert.deepEqual(decodeInput(kinesis, 'PutRecords', JSON.parse(text), 'json'), input);
        // Buffer.toJSON runs before any replacer, so spell out the expected wire form.
        const wire = { ...input, Records: input.Records.map((r) => ({ ...r, Data: r.Data.toString('base64') })) };
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(wire)));
      }),
    );
  });

  it('CBOR round trip: encodeShape then decodeCbor then decodeInput gives the input back', () => {
    fc.assert(
      fc.property(putRecordsInput(fc.string({ unit: 'grapheme', maxLength: 20 })), (input) => {
        const bytes = encodeShape(kinesis, 'PutRecordsInput', input, 'cbor');
        assert.deepEqual(decodeInput(kinesis, 'PutRecords', decodeCbor(bytes), 'cbor'), input);
      }),
    );
  });

  it('timestamps round trip in milliseconds through JSON and CBOR', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1e11, max: 4e12 }), fc.constantFrom<WireFormat>('json', 'cbor'), (ms, format) => {
        const input = { ShardId: 's', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: ms };
        const bytes = encodeShape(kinesis, 'GetShardIteratorInput', input, format);
        const parsed: unknown = format === 'json' ? JSON.parse(bytes.toString()) : decodeCbor(bytes);
        assert.deepEqual(decodeInput(kinesis, 'GetShardIterator', parsed, format), input);
      }),
    );
  });

  it('JSON timestamps print exactly as String(ms / 1000)', () => {
    const millis = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 53 - 1 }),
      fc.integer({ min: 0, max: 1e13 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(millis, (ms) => {
        const output = { ConsumerDescription: { ConsumerCreationTimestamp: ms } };
        const body = encodeOutput(kinesis, 'DescribeStreamConsumer', output, 'json').toString();
        assert.equal(body, `{"ConsumerDescription":{"ConsumerCreationTimestamp":${String(ms / 1000)}}}`);
      }),
    );
  });

  it('base64 text is either canonical (and decodes) or refused with a SerializationException', () => {
    const text = fc.oneof(fc.base64String(), fc.string({ maxLength: 12 }), fc.stringMatching(/^[A-Za-z0-9+/=_-]{0,12}$/));
    fc.assert(
      fc.property(text, (data) => {
        const result = run(kinesis, 'PutRecord', { StreamName: 's', PartitionKey: 'p', Data: data });
        if (result instanceof AwsError) {
          assert.equal(result.type, 'SerializationException');
          assert.ok(result.message.startsWith(`'${data}' can not be converted to a Blob: `));
        } else {
          assert.equal((result.Data as Buffer).toString('base64'), data);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('validation never lists more than 10 violations', () => {
    const entry = fc.record({ PartitionKey: fc.constantFrom('', 'a', 'x'.repeat(300)), Data: fc.constant('') });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 600 }), (records) => {
        const body = { StreamName: '', Records: records };
        onlyAwsErrors(() => validateInput(kinesis, 'PutRecords', decodeInput(kinesis, 'PutRecords', body, 'json')));
      }),
      { numRuns: 30 },
    );
  });
});
