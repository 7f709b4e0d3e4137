/** The HTTP endpoint delivery contract, seen from an in-test receiver. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { DeliveryError } from '../../../src/firehose/destinations/errors.js';
import { deliverHttpEndpoint } from '../../../src/firehose/destinations/http-endpoint.js';
import type { DeliveryMeta } from '../../../src/firehose/destinations/retry.js';
import { fakeClock } from './helpers/clock.js';
import { closedPort, type Received, type Receiver, startReceiver } from './helpers/receiver.js';

const ARN = 'arn:aws:firehose:us-east-1:000000000000:deliverystream/http-test';
const REQUEST_ID = 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f';

function meta(extra: Partial<DeliveryMeta> = {}): DeliveryMeta {
  return { deliveryStreamArn: ARN, deliveryStreamName: 'http-test', requestId: REQUEST_ID, timestampMs: 1_578_090_901_599, clock: fakeClock(), ...extra };
}

/** The contract's success answer. */
function accept(req: Received): { status: number; body: object } {
  return { status: 200, body: { requestId: req.headers['x-amz-firehose-request-id'], timestamp: 1_578_090_903_599 } };
}

function bodyOf(req: Received): { requestId: string; timestamp: number; records: { data: string }[] } {
  const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(req.body) : req.body;
  return JSON.parse(raw.toString('utf8')) as { requestId: string; timestamp: number; records: { data: string }[] };
}

describe('http endpoint delivery', () => {
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver();
  });
  after(() => rx.close());

  const config = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    EndpointConfiguration: { Url: `${rx.url}/ingest?team=data`, Name: 'receiver', AccessKey: 'my-api-key' },
    RequestConfiguration: {
      ContentEncoding: 'NONE',
      CommonAttributes: [
        { AttributeName: 'deployment-context', AttributeValue: 'pre-prod-gamma' },
        { AttributeName: 'device-types', AttributeValue: '' },
      ],
    },
    S3Configuration: { RoleARN: 'r', BucketARN: 'arn:aws:s3:::b' },
    ...extra,
  });

  it('POSTs the request the contract describes', async () => {
    rx.requests.length = 0;
    rx.handler = accept;
    const records = [Buffer.from('hello'), Buffer.from('hello world'), Buffer.alloc(0), Buffer.from([0, 255, 10])];
    await deliverHttpEndpoint(config(), records, meta());
    assert.equal(rx.requests.length, 1);
    const req = rx.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/ingest?team=data');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['content-encoding'], undefined);
    assert.equal(req.headers['x-amz-firehose-protocol-version'], '1.0');
    assert.equal(req.headers['x-amz-firehose-request-id'], REQUEST_ID);
    assert.equal(req.headers['x-amz-firehose-source-arn'], ARN);
    assert.equal(req.headers['x-amz-firehose-access-key'], 'my-api-key');
    assert.deepEqual(JSON.parse(String(req.headers['x-amz-firehose-common-attributes'])), {
      commonAttributes: { 'deployment-context': 'pre-prod-gamma', 'device-types': '' },
    });
    assert.equal(Number(req.headers['content-length']), req.body.length);
    const body = bodyOf(req);
    assert.deepEqual(Object.keys(body), ['requestId', 'timestamp', 'records']);
    assert.equal(body.requestId, REQUEST_ID);
    assert.equal(body.timestamp, 1_578_090_901_599);
    assert.deepEqual(body.records.map((r) => Buffer.from(r.data, 'base64')), records);
    assert.deepEqual(body.records[0], { data: 'aGVsbG8=' }); // the AWS example's encoding
  });

  it('gzips the body with Content-Encoding: gzip when ContentEncoding is GZIP', async () => {
    rx.requests.length = 0;
    rx.handler = accept;
    await deliverHttpEndpoint(config({ RequestConfiguration: { ContentEncoding: 'GZIP' } }), [Buffer.from('{"a":1}')], meta());
    const req = rx.requests[0]!;
    assert.equal(req.headers['content-encoding'], 'gzip');
    assert.equal(req.body[0], 0x1f);
    assert.deepEqual(bodyOf(req).records, [{ data: Buffer.from('{"a":1}').toString('base64') }]);
    assert.deepEqual(JSON.parse(String(req.headers['x-amz-firehose-common-attributes'])), { commonAttributes: {} });
  });

  it('omits the access key header when none is configured', async () => {
    rx.requests.length = 0;
    rx.handler = accept;
    await deliverHttpEndpoint({ EndpointConfiguration: { Url: rx.url } }, [Buffer.from('x')], meta());
    assert.equal(rx.requests[0]!.headers['x-amz-firehose-access-key'], undefined);
  });

  it('retries a 500 with the same request id, backing off 1 s then 2 s (±15%)', async () => {
    rx.requests.length = 0;
    rx.handler = (req, n) => (n <= 2 ? { status: 500, body: { requestId: REQUEST_ID, timestamp: 1, errorMessage: 'try later' } } : accept(req));
    const clock = fakeClock();
    await deliverHttpEndpoint(config(), [Buffer.from('a')], meta({ clock }));
    assert.equal(rx.requests.length, 3);
    assert.deepEqual(new Set(rx.requests.map((r) => r.headers['x-amz-firehose-request-id'])), new Set([REQUEST_ID]));
    assert.deepEqual(new Set(rx.requests.map((r) => bodyOf(r).requestId)), new Set([REQUEST_ID]));
    assert.equal(clock.sleeps.length, 2);
    assert.ok(clock.sleeps[0]! >= 850 && clock.sleeps[0]! <= 1150, String(clock.sleeps[0]));
    assert.ok(clock.sleeps[1]! >= 1700 && clock.sleeps[1]! <= 2300, String(clock.sleeps[1]));
  });

  it('gives up when the retry duration is over, with the last response in the error', async () => {
    rx.requests.length = 0;
    rx.handler = () => ({ status: 503, body: { requestId: REQUEST_ID, timestamp: 1, errorMessage: 'Unable to deliver records due to unknown error.' } });
    const clock = fakeClock();
    await assert.rejects(
      deliverHttpEndpoint(config({ RetryOptions: { DurationInSeconds: 20 } }), [Buffer.from('a')], meta({ clock })),
      (e: unknown) =>
        e instanceof DeliveryError &&
        e.errorCode === 'HttpEndpoint.DestinationException' &&
        e.attemptsMade === rx.requests.length &&
        e.routeToErrorOutput &&
        /Received the following response from the endpoint destination\. 503: .*Unable to deliver records/.test(e.message),
    );
    // Waits of 1, 2, 4 and 8 s (±15%) fit in 20 s; the next one (16 s) would not.
    assert.equal(rx.requests.length, 5);
    assert.ok(clock.sleeps.reduce((a, b) => a + b, 0) < 20_000);
  });

  it('RetryOptions 0 means one attempt', async () => {
    rx.requests.length = 0;
    rx.handler = () => ({ status: 500 });
    await assert.rejects(deliverHttpEndpoint(config({ RetryOptions: { DurationInSeconds: 0 } }), [Buffer.from('a')], meta()), DeliveryError);
    assert.equal(rx.requests.length, 1);
  });

  it('413 is permanent and not for the error output', async () => {
    rx.requests.length = 0;
    rx.handler = () => ({ status: 413, body: { requestId: REQUEST_ID, timestamp: 1, errorMessage: 'too big' } });
    await assert.rejects(
      deliverHttpEndpoint(config(), [Buffer.from('a')], meta()),
      (e: unknown) => e instanceof DeliveryError && !e.retryable && !e.routeToErrorOutput && e.attemptsMade === 1,
    );
    assert.equal(rx.requests.length, 1);
  });

  it('treats a non-conforming 200 as a failure (wrong requestId, not JSON, a redirect)', async () => {
    const bad: ((req: Received) => { status: number; body?: object | string; headers?: Record<string, string> })[] = [
      () => ({ status: 200, body: { requestId: 'someone-else', timestamp: 1 } }),
      () => ({ status: 200, body: 'OK', headers: { 'Content-Type': 'text/plain' } }),
      () => ({ status: 200 }),
      () => ({ status: 302, headers: { Location: '/elsewhere' } }),
      () => ({ status: 204 }),
    ];
    for (const h of bad) {
      rx.requests.length = 0;
      rx.handler = h;
      await assert.rejects(
        deliverHttpEndpoint(config({ RetryOptions: { DurationInSeconds: 2 } }), [Buffer.from('a')], meta()),
        (e: unknown) => e instanceof DeliveryError && e.retryable && /HttpEndpoint\.(InvalidResponseFromDestination|DestinationException)/.test(e.errorCode),
      );
      assert.equal(rx.requests.length, 2, 'retried as a 500 would be');
    }
  });

  it('splits more than 10 000 records into requests of their own ids', async () => {
    rx.requests.length = 0;
    rx.handler = accept;
    const records = Array.from({ length: 10_001 }, (_, i) => Buffer.from(String(i)));
    await deliverHttpEndpoint(config(), records, meta());
    assert.equal(rx.requests.length, 2);
    assert.equal(bodyOf(rx.requests[0]!).records.length, 10_000);
    assert.equal(bodyOf(rx.requests[1]!).records.length, 1);
    assert.equal(rx.requests[0]!.headers['x-amz-firehose-request-id'], REQUEST_ID);
    assert.notEqual(rx.requests[1]!.headers['x-amz-firehose-request-id'], REQUEST_ID);
    assert.match(String(rx.requests[1]!.headers['x-amz-firehose-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('reports an unreachable endpoint as HttpEndpoint.ConnectionFailed', async () => {
    const port = await closedPort();
    await assert.rejects(
      deliverHttpEndpoint({ EndpointConfiguration: { Url: `http://127.0.0.1:${port}/` }, RetryOptions: { DurationInSeconds: 0 } }, [Buffer.from('a')], meta()),
      (e: unknown) => e instanceof DeliveryError && e.errorCode === 'HttpEndpoint.ConnectionFailed' && e.retryable,
    );
  });

  it('reaches names under .localhost without the system resolver', async () => {
    rx.requests.length = 0;
    rx.handler = accept;
    await deliverHttpEndpoint({ EndpointConfiguration: { Url: `http://receiver.localhost:${rx.port}/x` } }, [Buffer.from('a')], meta());
    assert.equal(rx.requests[0]!.headers.host, `receiver.localhost:${rx.port}`);
  });

  it('delivers nothing for no records', async () => {
    rx.requests.length = 0;
    await deliverHttpEndpoint(config(), [], meta());
    assert.equal(rx.requests.length, 0);
  });
});
