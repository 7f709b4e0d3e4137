/** OpenSearch / Elasticsearch delivery against an in-test _bulk receiver: exact NDJSON, index rotation, item failures. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BulkDeliveryError, DeliveryError } from '../../../src/firehose/destinations/errors.js';
import { deliverOpenSearch, type IndexRotationPeriod, rotatedIndexName, usWeek } from '../../../src/firehose/destinations/opensearch.js';
import type { DeliveryMeta } from '../../../src/firehose/destinations/retry.js';
import { fakeClock } from './helpers/clock.js';
import { type Received, type Receiver, startReceiver } from './helpers/receiver.js';

const ARN = 'arn:aws:firehose:us-east-1:000000000000:deliverystream/os-test';
const T = Date.parse('2026-11-22T03:04:05Z');

function meta(extra: Partial<DeliveryMeta> = {}): DeliveryMeta {
  return { deliveryStreamArn: ARN, deliveryStreamName: 'os-test', requestId: 'batch-7', timestampMs: T, clock: fakeClock(), ...extra };
}

function lines(req: Received): unknown[] {
  const text = req.body.toString('utf8');
  assert.ok(text.endsWith('\n'), 'bulk bodies end with a newline');
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as unknown);
}

/** A bulk answer with one item per action line, statuses from `status(i)`. */
function bulkAnswer(req: Received, status: (i: number, action: Record<string, Record<string, string>>) => number): object {
  const actions = lines(req).filter((_, i) => i % 2 === 0) as Record<string, Record<string, string>>[];
  const items = actions.map((a, i) => {
    const s = status(i, a);
    const meta = a.index!;
    return {
      index: {
        _index: meta._index,
        _id: meta._id ?? `auto-${i}`,
        status: s,
        ...(s >= 300 ? { error: s === 429 ? { type: 'es_rejected_execution_exception', reason: 'rejected execution' } : { type: 'mapper_parsing_exception', reason: 'failed to parse field [n]' } } : { result: 'created' }),
      },
    };
  });
  return { took: 3, errors: items.some((i) => i.index.status >= 300), items };
}

describe('opensearch _bulk delivery', () => {
  let os: Receiver;
  before(async () => {
    os = await startReceiver();
  });
  after(() => os.close());

  const config = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    RoleARN: 'r',
    ClusterEndpoint: os.url,
    IndexName: 'logs',
    IndexRotationPeriod: 'OneHour',
    S3Configuration: { RoleARN: 'r', BucketARN: 'arn:aws:s3:::b' },
    ...extra,
  });

  it('sends one _bulk request: index actions with the rotated index and stable ids, then each document', async () => {
    os.requests.length = 0;
    os.handler = (req) => ({ body: bulkAnswer(req, () => 201) });
    await deliverOpenSearch(config(), [Buffer.from('{"n":1}'), Buffer.from('{"n":2,"s":"x"}\n')], meta());
    assert.equal(os.requests.length, 1);
    const req = os.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/_bulk');
    assert.equal(req.headers['content-type'], 'application/x-ndjson');
    assert.equal(req.body.toString(), '{"index":{"_index":"logs-2026-11-22-03","_id":"batch-7-0"}}\n{"n":1}\n{"index":{"_index":"logs-2026-11-22-03","_id":"batch-7-1"}}\n{"n":2,"s":"x"}\n');
  });

  it('uses each record\'s arrival time for its index, TypeName as _type, and no _id with NO_DOCUMENT_ID', async () => {
    os.requests.length = 0;
    os.handler = (req) => ({ body: bulkAnswer(req, () => 201) });
    await deliverOpenSearch(
      config({ IndexRotationPeriod: 'OneDay', TypeName: 'event', DocumentIdOptions: { DefaultDocumentIdFormat: 'NO_DOCUMENT_ID' } }),
      [Buffer.from('{"a":1}'), Buffer.from('{"a":2}')],
      meta({ arrivalTimestamps: [Date.parse('2026-11-21T23:59:59Z'), Date.parse('2026-11-22T00:00:00Z')] }),
    );
    assert.deepEqual(lines(os.requests[0]!), [
      { index: { _index: 'logs-2026-11-21', _type: 'event' } },
      { a: 1 },
      { index: { _index: 'logs-2026-11-22', _type: 'event' } },
      { a: 2 },
    ]);
  });

  it('puts a multi-line JSON record on one line and refuses one that is not JSON', async () => {
    os.requests.length = 0;
    os.handler = (req) => ({ body: bulkAnswer(req, () => 201) });
    await assert.rejects(
      deliverOpenSearch(config(), [Buffer.from('{\n  "big": 12345678901234567890\n}\n'), Buffer.from('not\njson'), Buffer.from('')], meta()),
      (e: unknown) => e instanceof BulkDeliveryError && e.failures.map((f) => f.index).join() === '1,2',
    );
    assert.deepEqual(os.requests[0]!.body.toString().split('\n')[1], '{"big":12345678901234567890}');
  });

  it('re-sends only the items that failed with 429, and reports refused documents for the error output', async () => {
    os.requests.length = 0;
    os.handler = (req, n) =>
      ({ body: bulkAnswer(req, (i, a) => (n === 1 ? [201, 400, 429][i]! : a.index!._id === 'batch-7-2' ? 201 : 500)) });
    const clock = fakeClock();
    await assert.rejects(deliverOpenSearch(config(), [Buffer.from('{"n":1}'), Buffer.from('{"n":"x"}'), Buffer.from('{"n":3}')], meta({ clock })), (e: unknown) => {
      assert.ok(e instanceof BulkDeliveryError);
      assert.deepEqual(e.failures, [
        {
          index: 1,
          status: 400,
          errorCode: '400',
          errorMessage: '{"type":"mapper_parsing_exception","reason":"failed to parse field [n]"}',
          indexName: 'logs-2026-11-22-03',
          typeName: undefined,
          documentId: 'batch-7-1',
        },
      ]);
      assert.equal(e.attemptsMade, 2);
      assert.equal(e.retryable, false);
      return true;
    });
    assert.equal(os.requests.length, 2);
    assert.equal(os.requests[1]!.body.toString(), '{"index":{"_index":"logs-2026-11-22-03","_id":"batch-7-2"}}\n{"n":3}\n');
    assert.equal(clock.sleeps.length, 1);
  });

  it('gives up on items still failing when the retry duration ends', async () => {
    os.requests.length = 0;
    os.handler = (req) => ({ body: bulkAnswer(req, (_i, a) => (a.index!._id === 'batch-7-1' ? 503 : 201)) });
    await assert.rejects(
      deliverOpenSearch(config({ RetryOptions: { DurationInSeconds: 10 } }), [Buffer.from('{}'), Buffer.from('{}')], meta()),
      (e: unknown) => e instanceof BulkDeliveryError && e.failures.length === 1 && e.failures[0]!.index === 1 && e.failures[0]!.status === 503 && e.retryable,
    );
    assert.equal(os.requests.length, 4); // waits of 1, 2 and 4 s fit in 10 s, 8 more would not
  });

  it('retries a whole request that fails with 503 and stops at once on 403', async () => {
    os.requests.length = 0;
    os.handler = (req, n) => (n === 1 ? { status: 503, body: { error: 'unavailable' } } : { body: bulkAnswer(req, () => 201) });
    await deliverOpenSearch(config(), [Buffer.from('{}')], meta());
    assert.equal(os.requests.length, 2);
    os.requests.length = 0;
    os.handler = () => ({ status: 403, body: { error: 'forbidden' } });
    await assert.rejects(deliverOpenSearch(config(), [Buffer.from('{}')], meta()), (e: unknown) => e instanceof DeliveryError && e.errorCode === 'OS.AccessDenied' && !e.retryable);
    assert.equal(os.requests.length, 1);
  });

  it('sends URL credentials as Basic authorization', async () => {
    os.requests.length = 0;
    os.handler = (req) => ({ body: bulkAnswer(req, () => 201) });
    await deliverOpenSearch(config({ ClusterEndpoint: `http://admin:s3cr%40t@127.0.0.1:${os.port}` }), [Buffer.from('{}')], meta());
    assert.equal(os.requests[0]!.headers.authorization, `Basic ${Buffer.from('admin:s3cr@t').toString('base64')}`);
  });

  it('cannot reach a DomainARN alone', async () => {
    await assert.rejects(
      deliverOpenSearch({ DomainARN: 'arn:aws:es:us-east-1:000000000000:domain/d', IndexName: 'i' }, [Buffer.from('{}')], meta()),
      (e: unknown) => e instanceof DeliveryError && e.errorCode === 'OS.ConfigurationError' && /ClusterEndpoint/.test(e.message),
    );
  });

  it('rotates index names as AWS does', () => {
    // AWS's table ("Index rotation for the OpenSearch Service destination"), arrival 2016-02-25T13:00:00Z.
    const at = Date.parse('2016-02-25T13:00:00Z');
    const table: [IndexRotationPeriod | undefined, string][] = [
      [undefined, 'myindex'],
      ['NoRotation', 'myindex'],
      ['OneHour', 'myindex-2016-02-25-13'],
      ['OneDay', 'myindex-2016-02-25'],
      ['OneMonth', 'myindex-2016-02'],
      // The note's US rule (weeks from Sunday; week 1 holds the year's first Saturday) gives w09;
      // the table's older example shows w08 (an ISO week). Eddy follows the rule.
      ['OneWeek', 'myindex-2016-w09'],
    ];
    for (const [p, want] of table) assert.equal(rotatedIndexName('myindex', p, at), want, String(p));
    assert.equal(rotatedIndexName('x', 'OneHour', Date.parse('2026-11-22T03:59:59.999Z')), 'x-2026-11-22-03');
  });

  it('numbers US weeks from the week holding January 1', () => {
    const w = (iso: string): string => {
      const r = usWeek(Date.parse(`${iso}T12:00:00Z`));
      return `${r.year}-w${String(r.week).padStart(2, '0')}`;
    };
    assert.equal(w('2016-01-01'), '2016-w01'); // Friday; the week began Sunday 2015-12-27
    assert.equal(w('2015-12-27'), '2016-w01');
    assert.equal(w('2015-12-26'), '2015-w52'); // Saturday
    assert.equal(w('2016-01-03'), '2016-w02'); // Sunday
    assert.equal(w('2023-01-01'), '2023-w01'); // a Sunday
    assert.equal(w('2022-12-31'), '2022-w53'); // Saturday before it
    assert.equal(w('2020-08-11'), '2020-w33'); // AWS's "2020-w33" example week
  });
});
