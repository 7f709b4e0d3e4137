import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateDeliveryStreamCommand, type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { decode, firehoseClient, keyPattern, ROLE, waitFor } from './helpers.js';

interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** Undoes `Content-Encoding: aws-chunked` (SigV4 streaming / trailing checksums), should the SDK use it. */
function unchunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', i);
    const size = parseInt(body.subarray(i, eol).toString('latin1').split(';')[0]!, 16);
    if (!(size > 0)) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** A tiny S3: PutObject, path-style (`PUT /<bucket>/<key>`); fails the first `failures` requests with 500. */
function s3Receiver(): { server: Server; received: Received[]; failNext: (n: number) => void; start: () => Promise<string> } {
  const received: Received[] = [];
  let failures = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Buffer = Buffer.concat(chunks);
      if (String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) body = unchunk(body);
      if (failures > 0) {
        failures--;
        res.writeHead(500, { 'Content-Type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
        return;
      }
      received.push({ method: req.method ?? '', path: decodeURIComponent((req.url ?? '').split('?')[0]!), headers: req.headers, body });
      res.writeHead(200, { ETag: '"0123456789abcdef0123456789abcdef"', 'Content-Length': '0' });
      res.end();
    });
  });
  return {
    server,
    received,
    failNext: (n) => (failures = n),
    start: () =>
      new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      }),
  };
}

describe('Firehose delivery through an S3-compatible endpoint', () => {
  const s3 = s3Receiver();
  let t: TestServer;
  let fh: FirehoseClient;
  before(async () => {
    const endpoint = await s3.start();
    t = await startTestServer({
      manualClock: true,
      options: { s3Endpoint: endpoint, s3Region: 'us-west-2', s3AccessKeyId: 'AKIDS3RECEIVER', s3SecretAccessKey: 'secret/for/the/receiver' },
    });
    fh = firehoseClient(t.eddy.endpoint);
  });
  after(async () => {
    fh.destroy();
    await t.close();
    await new Promise((r) => s3.server.close(r));
  });

  it('PUTs each object path-style, signed with the configured credentials, and retries on 500', async () => {
    const name = uniqueName('ep');
    const bucket = uniqueName('bucket');
    await fh.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: ROLE,
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: 'in/',
          CompressionFormat: 'GZIP',
          BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
          ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
        },
      }),
    );
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('one') }, { Data: Buffer.from('two') }] }));
    const first = await waitFor(() => s3.received.find((r) => r.path.startsWith(`/${bucket}/`)), 'a PutObject');
    assert.equal(first.method, 'PUT');
    const key = first.path.slice(bucket.length + 2);
    assert.match(key, keyPattern(name, 1, '.gz', 'in/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    assert.equal(decode(key, first.body).toString(), 'one\ntwo\n');
    assert.match(String(first.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDS3RECEIVER\/\d{8}\/us-west-2\/s3\/aws4_request/);

    // A 500 from the endpoint is retried (on the clock) until the object is stored.
    s3.failNext(1);
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('three') }] }));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(s3.received.filter((r) => r.path.startsWith(`/${bucket}/`)).length, 1, 'the failed attempt stored nothing');
    t.clock!.advance(5_000);
    const second = await waitFor(() => s3.received.filter((r) => r.path.startsWith(`/${bucket}/`))[1], 'the retried PutObject');
    assert.equal(decode(second.path, second.body).toString(), 'three\n');
  });
});
