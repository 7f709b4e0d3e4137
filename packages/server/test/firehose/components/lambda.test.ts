/**
 * The Firehose data-transformation contract, through a local JavaScript function and through an
 * in-test server speaking the Lambda Invoke API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { invokeTransform, LambdaInvocationError, parseFunctionArn, type TransformRecord } from '../../../src/firehose/lambda.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';

const STREAM_ARN = 'arn:aws:firehose:us-east-1:000000000000:deliverystream/lambda-test';
const fnArn = (name: string, qualifier?: string): string => `arn:aws:lambda:us-east-1:000000000000:function:${name}${qualifier ? `:${qualifier}` : ''}`;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

function records(...data: string[]): TransformRecord[] {
  return data.map((d, i) => ({ recordId: `rec-${i}`, approximateArrivalTimestamp: 1_800_000_000_000 + i, data: b64(d) }));
}

// The functions, as a user would write them for Firehose.
const FUNCTIONS: Record<string, string> = {
  // Upper-cases each record, drops "drop", fails "fail", and partitions by the first letter.
  upper: `export const handler = async (event) => ({
    records: event.records.map((r) => {
      const text = Buffer.from(r.data, 'base64').toString('utf8');
      if (text === 'drop') return { recordId: r.recordId, result: 'Dropped' };
      if (text === 'fail') return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
      return { recordId: r.recordId, result: 'Ok', data: Buffer.from(text.toUpperCase()).toString('base64'), metadata: { partitionKeys: { letter: text[0], len: text.length } } };
    }),
  });`,
  // Puts the event and context it received into each record, to check their shape.
  echo: `export async function handler(event, context) {
    return { records: event.records.map((r) => ({ recordId: r.recordId, result: 'Ok',
      data: Buffer.from(JSON.stringify({ event: { ...event, records: undefined }, record: r, fn: context.functionName, arn: context.invokedFunctionArn, remaining: context.getRemainingTimeInMillis() > 0 })).toString('base64') })) };
  }`,
  'drops-one': `export const handler = async (event) => ({ records: event.records.slice(1).map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })) });`,
  'duplicates': `export const handler = async (event) => ({ records: [...event.records, event.records[0]].map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })) });`,
  'bad-result': `export const handler = async (event) => ({ records: event.records.map((r) => ({ recordId: r.recordId, result: 'Maybe', data: r.data })) });`,
  'no-records': `export const handler = async () => ({ items: [] });`,
  'throws': `export const handler = async () => { throw new TypeError('cannot read property x of undefined'); };`,
  'callback': `export function handler(event, context, callback) { setImmediate(() => callback(null, { records: event.records.map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })) })); }`,
  'slow': `export const handler = () => new Promise(() => {});`,
  'no-handler': `export const notAHandler = 1;`,
  'versioned': `export const handler = async (event) => ({ records: event.records.map((r) => ({ recordId: r.recordId, result: 'Ok', data: Buffer.from('v1').toString('base64') })) });`,
};

describe('lambda: local functions', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'eddy-lambda-'));
    for (const [name, src] of Object.entries(FUNCTIONS)) writeFileSync(join(dir, `${name}.mjs`), src);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = (): Parameters<typeof invokeTransform>[2] => ({ deliveryStreamArn: STREAM_ARN, region: 'us-east-1', invocationId: 'inv-1', localFunctions: dir });

  it('applies Ok, Dropped and ProcessingFailed, with partition keys, in input order', async () => {
    const out = await invokeTransform(fnArn('upper'), records('hello', 'drop', 'fail', 'world'), ctx());
    assert.deepEqual(
      out.map((r) => [r.recordId, r.result, r.result === 'Ok' ? unb64(r.data) : null, r.metadata?.partitionKeys ?? null]),
      [
        ['rec-0', 'Ok', 'HELLO', { letter: 'h', len: '5' }],
        ['rec-1', 'Dropped', null, null],
        ['rec-2', 'ProcessingFailed', null, null],
        ['rec-3', 'Ok', 'WORLD', { letter: 'w', len: '5' }],
      ],
    );
  });

  it('sends the Firehose event and a Lambda-like context', async () => {
    const rec: TransformRecord = {
      recordId: '49546986683135544286507457936321625675700192471156785154',
      approximateArrivalTimestamp: 1_495_072_949_453,
      data: b64('{"a":1}'),
      kinesisRecordMetadata: { shardId: 'shardId-000000000000', partitionKey: 'pk', approximateArrivalTimestamp: 1_495_072_949_453, sequenceNumber: '4954', subsequenceNumber: '0' },
    };
    const [r] = await invokeTransform(fnArn('echo'), [rec], { ...ctx(), sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/src' });
    const seen = JSON.parse(unb64(r!.data)) as Record<string, unknown>;
    assert.deepEqual(seen.event, { invocationId: 'inv-1', deliveryStreamArn: STREAM_ARN, region: 'us-east-1', sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/src' });
    assert.deepEqual(seen.record, rec);
    assert.equal(seen.fn, 'echo');
    assert.equal(seen.arn, fnArn('echo'));
    assert.equal(seen.remaining, true);
  });

  it('marks every record ProcessingFailed when a recordId is missing, repeated, or the answer is malformed', async () => {
    const cases: [string, string][] = [
      ['drops-one', 'Lambda.MissingRecordId'],
      ['duplicates', 'Lambda.DuplicatedRecordId'],
      ['bad-result', 'Lambda.JsonProcessingException'],
      ['no-records', 'Lambda.JsonProcessingException'],
    ];
    for (const [name, code] of cases) {
      const out = await invokeTransform(fnArn(name), records('a', 'b', 'c'), ctx());
      assert.deepEqual(
        out.map((r) => [r.recordId, r.result, r.errorCode]),
        [
          ['rec-0', 'ProcessingFailed', code],
          ['rec-1', 'ProcessingFailed', code],
          ['rec-2', 'ProcessingFailed', code],
        ],
        name,
      );
    }
  });

  it('rejects with Lambda.FunctionError when the function throws or times out', async () => {
    await assert.rejects(invokeTransform(fnArn('throws'), records('a'), ctx()), (e: unknown) => e instanceof LambdaInvocationError && e.errorCode === 'Lambda.FunctionError' && /TypeError: cannot read property/.test(e.message) && e.retryable);
    await assert.rejects(invokeTransform(fnArn('slow'), records('a'), { ...ctx(), timeoutMs: 50 }), /Task timed out after 0.05 seconds/);
    await assert.rejects(invokeTransform(fnArn('no-handler'), records('a'), ctx()), /does not export a handler/);
  });

  it('supports callback-style handlers', async () => {
    const out = await invokeTransform(fnArn('callback'), records('x'), ctx());
    assert.deepEqual(out, [{ recordId: 'rec-0', result: 'Ok', data: b64('x') }]);
  });

  it('picks up a changed function file', async () => {
    const first = await invokeTransform(fnArn('versioned'), records('x'), ctx());
    assert.equal(unb64(first[0]!.data), 'v1');
    const file = join(dir, 'versioned.mjs');
    writeFileSync(file, FUNCTIONS.versioned!.replace("'v1'", "'v2'"));
    const later = new Date(Date.now() + 5000);
    utimesSync(file, later, later);
    const second = await invokeTransform(fnArn('versioned'), records('x'), ctx());
    assert.equal(unb64(second[0]!.data), 'v2');
  });

  it('is Lambda.ResourceNotFound when nothing provides the function', async () => {
    await assert.rejects(invokeTransform(fnArn('nope'), records('a'), ctx()), (e: unknown) => e instanceof LambdaInvocationError && e.errorCode === 'Lambda.ResourceNotFound' && !e.retryable);
    await assert.rejects(invokeTransform(fnArn('upper'), records('a'), { deliveryStreamArn: STREAM_ARN, region: 'us-east-1', invocationId: 'i' }), /neither --lambda-dir nor --lambda-endpoint/);
  });

  it('reads function names from ARNs', () => {
    assert.deepEqual(parseFunctionArn('arn:aws:lambda:eu-west-1:123456789012:function:my-fn'), { name: 'my-fn', qualifier: undefined });
    assert.deepEqual(parseFunctionArn('arn:aws:lambda:eu-west-1:123456789012:function:my-fn:$LATEST'), { name: 'my-fn', qualifier: '$LATEST' });
    assert.deepEqual(parseFunctionArn('123456789012:function:f:prod'), { name: 'f', qualifier: 'prod' });
    assert.deepEqual(parseFunctionArn('plain_name'), { name: 'plain_name', qualifier: undefined });
    assert.throws(() => parseFunctionArn('arn:aws:lambda:eu-west-1:1:function:../etc/passwd'), LambdaInvocationError);
  });
});

describe('lambda: the Invoke API', () => {
  let server: Receiver;
  before(async () => {
    server = await startReceiver();
  });
  after(() => server.close());
  const ctx = (): Parameters<typeof invokeTransform>[2] => ({ deliveryStreamArn: STREAM_ARN, region: 'us-east-1', invocationId: 'inv-http', lambdaEndpoint: `${server.url}/` });

  const okAll = (body: Buffer): object => {
    const ev = JSON.parse(body.toString()) as { records: { recordId: string; data: string }[] };
    return { records: ev.records.map((r) => ({ recordId: r.recordId, result: 'Ok', data: b64(unb64(r.data).split('').reverse().join('')) })) };
  };

  it('POSTs the event to /2015-03-31/functions/<name>/invocations as RequestResponse', async () => {
    server.handler = (req) => ({ status: 200, body: okAll(req.body) });
    server.requests.length = 0;
    const out = await invokeTransform(fnArn('reverse', 'live'), records('abc', 'xyz'), ctx());
    assert.deepEqual(out.map((r) => unb64(r.data)), ['cba', 'zyx']);
    const req = server.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/2015-03-31/functions/reverse/invocations?Qualifier=live');
    assert.equal(req.headers['x-amz-invocation-type'], 'RequestResponse');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body.toString()), { invocationId: 'inv-http', deliveryStreamArn: STREAM_ARN, region: 'us-east-1', records: records('abc', 'xyz') });
  });

  it('passes Ok, Dropped and ProcessingFailed through', async () => {
    server.handler = (req) => {
      const ev = JSON.parse(req.body.toString()) as { records: { recordId: string; data: string }[] };
      const results = ['Ok', 'Dropped', 'ProcessingFailed'];
      return { body: { records: ev.records.map((r, i) => ({ recordId: r.recordId, result: results[i], data: r.data })) } };
    };
    const out = await invokeTransform(fnArn('mixed'), records('a', 'b', 'c'), ctx());
    assert.deepEqual(out.map((r) => r.result), ['Ok', 'Dropped', 'ProcessingFailed']);
  });

  it('marks all ProcessingFailed when the answer lacks a recordId or is not JSON', async () => {
    server.handler = (req) => {
      const ev = JSON.parse(req.body.toString()) as { records: { recordId: string; data: string }[] };
      return { body: { records: ev.records.slice(0, 1).map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })) } };
    };
    let out = await invokeTransform(fnArn('partial'), records('a', 'b'), ctx());
    assert.deepEqual(out.map((r) => [r.result, r.errorCode]), [
      ['ProcessingFailed', 'Lambda.MissingRecordId'],
      ['ProcessingFailed', 'Lambda.MissingRecordId'],
    ]);
    server.handler = () => ({ status: 200, body: 'not json', headers: { 'Content-Type': 'application/json' } });
    out = await invokeTransform(fnArn('garbage'), records('a'), ctx());
    assert.deepEqual(out.map((r) => [r.result, r.errorCode]), [['ProcessingFailed', 'Lambda.JsonProcessingException']]);
  });

  it('rejects with Lambda.FunctionError on X-Amz-Function-Error', async () => {
    server.handler = () => ({ status: 200, headers: { 'X-Amz-Function-Error': 'Unhandled' }, body: { errorType: 'Runtime.ExitError', errorMessage: 'RequestId: 1 Error: Runtime exited with error: exit status 1' } });
    await assert.rejects(
      invokeTransform(fnArn('crashes'), records('a'), ctx()),
      (e: unknown) => e instanceof LambdaInvocationError && e.errorCode === 'Lambda.FunctionError' && /Runtime.ExitError: RequestId: 1/.test(e.message),
    );
  });

  it('maps Invoke API errors to Firehose codes', async () => {
    const cases: [number, string, string, boolean][] = [
      [404, 'ResourceNotFoundException', 'Lambda.ResourceNotFound', false],
      [429, 'TooManyRequestsException', 'Lambda.InvokeLimitExceeded', true],
      [403, 'AccessDeniedException', 'Lambda.InvokeAccessDenied', false],
      [500, 'ServiceException', 'Lambda.ServiceException', true],
    ];
    for (const [status, type, code, retryable] of cases) {
      server.handler = () => ({ status, headers: { 'x-amzn-ErrorType': type }, body: { Type: 'User', message: `${type} happened` } });
      await assert.rejects(
        invokeTransform(fnArn('f'), records('a'), ctx()),
        (e: unknown) => e instanceof LambdaInvocationError && e.errorCode === code && e.retryable === retryable && e.message.includes(`${type} happened`),
        type,
      );
    }
  });

  it('is Lambda.ServiceException when the endpoint is unreachable', async () => {
    await assert.rejects(
      invokeTransform(fnArn('f'), records('a'), { ...ctx(), lambdaEndpoint: 'http://127.0.0.1:1' }),
      (e: unknown) => e instanceof LambdaInvocationError && e.errorCode === 'Lambda.ServiceException' && e.retryable,
    );
  });
});
