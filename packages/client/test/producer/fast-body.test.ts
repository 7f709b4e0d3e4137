import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { type BodyRecord, FastBody, putRecordsBody } from '../../src/producer/fast-body.js';

/** A client that captures the request it would send and answers nothing. */
function capturingClient(contentType?: string): { client: KinesisClient; last: () => { headers: Record<string, string>; body: unknown } } {
  const client = new KinesisClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  let last: { headers: Record<string, string>; body: unknown } | undefined;
  if (contentType) {
    client.middlewareStack.add(
      (next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers['content-type'] = contentType;
        return next(args);
      },
      { step: 'serialize', priority: 'low', name: 'testContentType' },
    );
  }
  client.middlewareStack.add(
    () => async (args) => {
      last = args.request as typeof last;
      throw new Error('captured');
    },
    { step: 'finalizeRequest', priority: 'low', name: 'testCapture' },
  );
  return {
    client,
    last: () => {
      if (!last) throw new Error('no request');
      return last;
    },
  };
}

const text = (b: unknown): string => (typeof b === 'string' ? b : Buffer.from(b as Uint8Array).toString('utf8'));

const records: BodyRecord[] = [
  { data: Buffer.from('hello'), partitionKey: 'a', explicitHashKey: '1234' },
  { data: Buffer.alloc(0), partitionKey: 'ключ "quoted" \\ \u0001 😀', explicitHashKey: undefined },
  { data: Buffer.from([0, 255, 1, 254, 2]), partitionKey: 'k', explicitHashKey: '340282366920938463463374607431768211455' },
  { data: Buffer.alloc(70_000, 7), partitionKey: 'big', explicitHashKey: undefined },
];

for (const stream of [{ StreamName: 'my-stream' }, { StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/my-stream' }]) {
  test(`our body equals the SDK's (${Object.keys(stream)[0]})`, async () => {
    const { client, last } = capturingClient();
    const fb = new FastBody(true);
    assert.equal(fb.active, false);
    await assert.rejects(client.send(fb.command(stream, records)), /captured/);
    assert.equal(fb.active, true, 'the probe found AWS JSON 1.1');
    const sdkBody = text(last().body);
    await assert.rejects(client.send(fb.command(stream, records)), /captured/);
    const req = last();
    const ours = text(req.body);
    assert.deepEqual(JSON.parse(ours), JSON.parse(sdkBody));
    assert.equal(req.headers['content-length'], String(Buffer.byteLength(ours)));
    assert.deepEqual(JSON.parse(putRecordsBody(stream, records).toString('utf8')), JSON.parse(sdkBody));
  });
}

test('another protocol keeps the SDK serializer', async () => {
  const { client, last } = capturingClient('application/x-amz-cbor-1.1');
  const fb = new FastBody(true);
  await assert.rejects(client.send(fb.command({ StreamName: 's' }, records)), /captured/);
  assert.equal(fb.active, false);
  await assert.rejects(client.send(fb.command({ StreamName: 's' }, records)), /captured/);
  const body = JSON.parse(text(last().body)) as { Records: { Data: string }[] };
  assert.equal(body.Records[0]?.Data, Buffer.from('hello').toString('base64'), 'real data went through the SDK');
});

test("the body carries each record's own base64, whatever the lengths (one encoding for all of them)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ data: fc.uint8Array({ maxLength: 200 }), ehk: fc.option(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), { nil: undefined }) }), { minLength: 1, maxLength: 12 }),
      (rs) => {
        const recs: BodyRecord[] = rs.map((r, i) => ({ data: Buffer.from(r.data), partitionKey: `k${i}`, explicitHashKey: r.ehk?.toString() }));
        const body = JSON.parse(putRecordsBody({ StreamName: 's' }, recs).toString('utf8')) as { Records: { Data: string; PartitionKey: string; ExplicitHashKey?: string }[] };
        assert.equal(body.Records.length, recs.length);
        recs.forEach((r, i) => {
          assert.equal(body.Records[i]?.Data, r.data.toString('base64'));
          assert.equal(body.Records[i]?.PartitionKey, r.partitionKey);
          assert.equal(body.Records[i]?.ExplicitHashKey, r.explicitHashKey);
        });
      },
    ),
    { numRuns: 500 },
  );
});

test('fast path: x-amz-content-sha256 is the SHA-256 of the body; prepare() runs before the data are read', async () => {
  const { client, last } = capturingClient();
  const fb = new FastBody(true);
  let prepared = 0;
  await assert.rejects(client.send(fb.command({ StreamName: 's' }, records, () => prepared++)), /captured/);
  assert.equal(prepared, 1, 'the SDK path prepares before building its entries');
  const data = Buffer.from('before');
  const rs: BodyRecord[] = [{ data, partitionKey: 'k', explicitHashKey: undefined }];
  const cmd = fb.command({ StreamName: 's' }, rs, () => {
    prepared++;
    data.write('after!');
  });
  assert.equal(prepared, 1, 'the fast path prepares when it builds the body');
  await assert.rejects(client.send(cmd), /captured/);
  assert.equal(prepared, 2);
  const req = last();
  const body = Buffer.from(req.body as Uint8Array);
  assert.equal((JSON.parse(body.toString('utf8')) as { Records: { Data: string }[] }).Records[0]?.Data, Buffer.from('after!').toString('base64'));
  assert.equal(req.headers['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
});
