/** Splunk HEC delivery against an in-test HEC: request shapes for Raw and Event, indexer acknowledgment, HEC errors. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeliveryError } from '../../../src/firehose/destinations/errors.js';
import type { DeliveryMeta } from '../../../src/firehose/destinations/retry.js';
import { deliverSplunk, hecEvent, hecUrl, splunkChannel } from '../../../src/firehose/destinations/splunk.js';
import { fakeClock } from './helpers/clock.js';
import { type Receiver, startReceiver } from './helpers/receiver.js';

const ARN = 'arn:aws:firehose:us-east-1:000000000000:deliverystream/splunk-test';
const TOKEN = '7a6c2e4b-1111-2222-3333-444455556666';

function meta(extra: Partial<DeliveryMeta> = {}): DeliveryMeta {
  return { deliveryStreamArn: ARN, deliveryStreamName: 'splunk-test', requestId: 'req-1', timestampMs: 1_800_000_000_000, clock: fakeClock(), ...extra };
}

describe('splunk HEC delivery', () => {
  let hec: Receiver;
  before(async () => {
    hec = await startReceiver();
  });
  after(() => hec.close());

  const config = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    HECEndpoint: `${hec.url}`,
    HECEndpointType: 'Raw',
    HECToken: TOKEN,
    S3Configuration: { RoleARN: 'r', BucketARN: 'arn:aws:s3:::b' },
    ...extra,
  });

  it('Raw: POSTs the records concatenated to /services/collector/raw with the token and a channel', async () => {
    hec.requests.length = 0;
    hec.handler = () => ({ body: { text: 'Success', code: 0 } });
    const records = [Buffer.from('2026-11-22 03:04:05 login ok\n'), Buffer.from('2026-11-22 03:04:06 logout\n')];
    await deliverSplunk(config(), records, meta());
    assert.equal(hec.requests.length, 1);
    const req = hec.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/services/collector/raw');
    assert.equal(req.headers.authorization, `Splunk ${TOKEN}`);
    assert.equal(req.headers['x-splunk-request-channel'], splunkChannel(ARN));
    assert.match(String(req.headers['x-splunk-request-channel']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(req.body, Buffer.concat(records));
  });

  it('Event: POSTs one HEC event per record to /services/collector/event', async () => {
    hec.requests.length = 0;
    hec.handler = () => ({ body: { text: 'Success', code: 0 } });
    const records = [
      Buffer.from('{"event":{"action":"login"},"sourcetype":"aws:firehose","time":1800000000}'),
      Buffer.from('{"action":"logout","user":12345678901234567890}'),
      Buffer.from('plain text line\n'),
    ];
    await deliverSplunk(config({ HECEndpointType: 'Event' }), records, meta());
    const req = hec.requests[0]!;
    assert.equal(req.url, '/services/collector/event');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(req.body.toString('utf8').split('\n'), [
      '{"event":{"action":"login"},"sourcetype":"aws:firehose","time":1800000000}',
      '{"event":{"action":"logout","user":12345678901234567890}}',
      '{"event":"plain text line"}',
    ]);
  });

  it('waits for indexer acknowledgment: polls /services/collector/ack until the ackId is true', async () => {
    hec.requests.length = 0;
    let polls = 0;
    hec.handler = (req) => {
      if (req.url.startsWith('/services/collector/ack')) {
        polls++;
        return { body: { acks: { '42': polls >= 3 } } };
      }
      return { body: { text: 'Success', code: 0, ackId: 42 } };
    };
    const clock = fakeClock();
    await deliverSplunk(config({ HECAcknowledgmentTimeoutInSeconds: 180 }), [Buffer.from('x')], meta({ clock }));
    assert.deepEqual(
      hec.requests.map((r) => r.url),
      ['/services/collector/raw', ...Array.from({ length: 3 }, () => `/services/collector/ack?channel=${splunkChannel(ARN)}`)],
    );
    for (const ack of hec.requests.slice(1)) {
      assert.deepEqual(JSON.parse(ack.body.toString()), { acks: [42] });
      assert.equal(ack.headers.authorization, `Splunk ${TOKEN}`);
      assert.equal(ack.headers['x-splunk-request-channel'], splunkChannel(ARN));
    }
    assert.deepEqual(clock.sleeps, [1000, 1000]);
  });

  it('Splunk.AckTimeout when the ack does not come within HECAcknowledgmentTimeoutInSeconds, then a resend', async () => {
    hec.requests.length = 0;
    let sends = 0;
    hec.handler = (req) => {
      if (req.url.startsWith('/services/collector/ack')) return { body: { acks: { [String(sends)]: sends >= 2 } } };
      sends++;
      return { body: { text: 'Success', code: 0, ackId: sends } };
    };
    // First POST: 180 s without an ack; the retry (new POST, new ackId) is acknowledged.
    await deliverSplunk(config({ HECAcknowledgmentTimeoutInSeconds: 180, RetryOptions: { DurationInSeconds: 600 } }), [Buffer.from('x')], meta());
    assert.equal(sends, 2);
    hec.requests.length = 0;
    hec.handler = (req) => (req.url.startsWith('/services/collector/ack') ? { body: { acks: { '1': false } } } : { body: { text: 'Success', code: 0, ackId: 1 } });
    await assert.rejects(
      deliverSplunk(config({ HECAcknowledgmentTimeoutInSeconds: 180, RetryOptions: { DurationInSeconds: 0 } }), [Buffer.from('x')], meta()),
      (e: unknown) => e instanceof DeliveryError && e.errorCode === 'Splunk.AckTimeout' && /acknowledgement timeout expired/.test(e.message),
    );
    assert.equal(hec.requests.filter((r) => r.url.includes('/ack')).length, 181); // at 0, 1, ..., 180 s
  });

  it('Splunk.DisabledAck when acknowledgment is configured but HEC returns no ackId', async () => {
    hec.handler = () => ({ body: { text: 'Success', code: 0 } });
    await assert.rejects(
      deliverSplunk(config({ HECAcknowledgmentTimeoutInSeconds: 300, RetryOptions: { DurationInSeconds: 0 } }), [Buffer.from('x')], meta()),
      (e: unknown) => e instanceof DeliveryError && e.errorCode === 'Splunk.DisabledAck',
    );
  });

  it("maps HEC's error codes", async () => {
    const cases: [number, object, string][] = [
      [403, { text: 'Token disabled', code: 1 }, 'Splunk.DisabledToken'],
      [401, { text: 'Token is required', code: 2 }, 'Splunk.InvalidToken'],
      [403, { text: 'Invalid token', code: 4 }, 'Splunk.InvalidToken'],
      [400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 }, 'Splunk.InvalidDataFormat'],
      [400, { text: 'Incorrect index', code: 7 }, 'Splunk.InvalidIndex'],
      [503, { text: 'Server is busy', code: 9 }, 'Splunk.ServerError'],
      [400, { text: 'Data channel is missing', code: 10 }, 'Splunk.ProxyWithoutStickySessions'],
      [400, { text: 'ACK is disabled', code: 14 }, 'Splunk.DisabledAck'],
      [502, 'Bad Gateway' as unknown as object, 'Splunk.ServerError'],
    ];
    for (const [status, body, code] of cases) {
      hec.handler = () => ({ status, body });
      await assert.rejects(
        deliverSplunk(config({ RetryOptions: { DurationInSeconds: 0 } }), [Buffer.from('x')], meta()),
        (e: unknown) => e instanceof DeliveryError && e.errorCode === code,
        code,
      );
    }
  });

  it('retries any HEC failure for the retry duration', async () => {
    hec.requests.length = 0;
    hec.handler = (_req, n) => (n < 3 ? { status: 503, body: { text: 'Server is busy', code: 9 } } : { body: { text: 'Success', code: 0 } });
    await deliverSplunk(config(), [Buffer.from('x')], meta());
    assert.equal(hec.requests.length, 3);
  });

  it('builds collector URLs from a base URL or a collector path', () => {
    assert.equal(hecUrl('https://splunk.example.com:8088', 'Raw'), 'https://splunk.example.com:8088/services/collector/raw');
    assert.equal(hecUrl('https://splunk.example.com:8088/', 'Event'), 'https://splunk.example.com:8088/services/collector/event');
    assert.equal(hecUrl('https://h/services/collector', 'Raw'), 'https://h/services/collector/raw');
    assert.equal(hecUrl('https://h/services/collector/event/1.0', 'Ack'), 'https://h/services/collector/ack');
    assert.equal(hecUrl('https://h/splunk/', 'Event'), 'https://h/splunk/services/collector/event');
  });

  it('wraps records into HEC events', () => {
    assert.equal(hecEvent(Buffer.from('{"event":"x","host":"h"}')), '{"event":"x","host":"h"}');
    assert.equal(hecEvent(Buffer.from('[1,2]')), '{"event":[1,2]}');
    assert.equal(hecEvent(Buffer.from('"quoted"')), '{"event":"quoted"}');
    assert.equal(hecEvent(Buffer.from('line\r\n')), '{"event":"line"}');
  });
});
