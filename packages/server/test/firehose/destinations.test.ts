/**
 * The destinations other than S3, end to end: records go in through @aws-sdk/client-firehose and
 * are checked where they land (an HTTPS receiver for the HTTP endpoint contract and OpenSearch's
 * _bulk, an HTTP receiver speaking HEC, rows in a real PostgreSQL for Redshift's COPY, and the
 * error output in the local S3 layout when a destination keeps failing).
 */
import assert from 'node:assert/strict';
import { globalAgent } from 'node:https';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { CreateDeliveryStreamCommand, type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import pg from 'pg';
import { selfSignedCertificate } from '../../src/wire/self-signed.js';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { startPostgres, type Postgres } from './components/helpers/postgres.js';
import { type Received, type Receiver, type ReplyHandler, startReceiver } from './components/helpers/receiver.js';
import { firehoseClient, keyPattern, listObjects, ROLE, waitFor } from './helpers.js';

/**
 * One self-signed certificate for every HTTPS receiver, trusted by this process (the destinations
 * use the global agent). One, because OpenSSL finds a trusted certificate by its subject name, and
 * every certificate selfSignedCertificate makes is named CN=localhost.
 */
let tls: { key: string; cert: string } | undefined;
function trustedCertificate(): { key: string; cert: string } {
  if (tls === undefined) {
    tls = selfSignedCertificate('localhost');
    const ca = globalAgent.options.ca;
    globalAgent.options.ca = [...(Array.isArray(ca) ? ca : ca ? [ca] : []), tls.cert];
  }
  return tls;
}

/** An HTTPS receiver (the model wants https:// URLs for HTTP endpoints and OpenSearch clusters). */
async function startHttpsReceiver(handler: ReplyHandler): Promise<Receiver & { server: HttpsServer }> {
  const { key, cert } = trustedCertificate();
  const requests: Received[] = [];
  const r = { url: '', port: 0, requests, handler } as Receiver & { server: HttpsServer };
  const server = createHttpsServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      void Promise.resolve(r.handler(rec, requests.length)).then((reply) => {
        const body = reply.body === undefined ? '' : typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status ?? 200, { 'Content-Type': 'application/json', ...reply.headers });
        res.end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    server,
    url: `https://localhost:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const s3Config = (bucket: string) => ({ RoleARN: ROLE, BucketARN: `arn:aws:s3:::${bucket}`, ErrorOutputPrefix: 'failed/!{firehose:error-output-type}/' });

describe('Firehose destinations beyond S3', () => {
  let t: TestServer;
  let fh: FirehoseClient;
  before(async () => {
    t = await startTestServer({ disk: true, manualClock: true });
    fh = firehoseClient(t.eddy.endpoint);
  });
  after(async () => {
    fh.destroy();
    await t.close();
  });

  describe('HTTP endpoint', () => {
    let rx: Receiver;
    before(async () => {
      rx = await startHttpsReceiver(() => ({ status: 200 }));
    });
    after(() => rx.close());

    it('POSTs the Firehose request (access key, request id, common attributes, gzip) and falls back to the error output after RetryOptions', async () => {
      const name = uniqueName('http');
      const bucket = uniqueName('b');
      rx.requests.length = 0;
      rx.handler = (req) => ({ status: 200, body: { requestId: req.headers['x-amz-firehose-request-id'], timestamp: Date.now() } });
      await fh.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          HttpEndpointDestinationConfiguration: {
            EndpointConfiguration: { Url: `${rx.url}/ingest`, Name: 'rx', AccessKey: 'secret-key' },
            RequestConfiguration: { ContentEncoding: 'GZIP', CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'test' }] },
            BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
            RetryOptions: { DurationInSeconds: 60 },
            S3BackupMode: 'FailedDataOnly',
            S3Configuration: s3Config(bucket),
          },
        }),
      );
      await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('one') }, { Data: Buffer.from('two') }] }));
      const req = await waitFor(() => rx.requests[0], 'a POST');
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/ingest');
      assert.equal(req.headers['x-amz-firehose-access-key'], 'secret-key');
      assert.equal(req.headers['x-amz-firehose-protocol-version'], '1.0');
      assert.equal(req.headers['x-amz-firehose-source-arn'], `arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`);
      assert.deepEqual(JSON.parse(String(req.headers['x-amz-firehose-common-attributes'])), { commonAttributes: { env: 'test' } });
      assert.equal(req.headers['content-encoding'], 'gzip');
      const body = JSON.parse(gunzipSync(req.body).toString()) as { requestId: string; records: { data: string }[] };
      assert.equal(body.requestId, req.headers['x-amz-firehose-request-id']);
      assert.deepEqual(body.records.map((r) => Buffer.from(r.data, 'base64').toString()), ['one', 'two']);

      // Now the endpoint fails: retried with the same request id until the retry duration ends.
      rx.requests.length = 0;
      rx.handler = () => ({ status: 500, body: { errorMessage: 'nope' } });
      await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('three') }] }));
      await waitFor(() => rx.requests.length >= 1, 'the first attempt');
      // The retry's back-off starts once Eddy has read the 500, which may be after the request
      // was seen here: time moves on a second at a time until the retry comes (at most 10 s of
      // the 60 s of RetryOptions, so that one more attempt fits before they run out).
      let advanced = 0;
      await waitFor(() => {
        if (rx.requests.length >= 2) return true;
        if (advanced < 10_000) {
          t.clock!.advance(1_000);
          advanced += 1_000;
        }
        return false;
      }, 'a retry');
      assert.equal(rx.requests[1]!.headers['x-amz-firehose-request-id'], rx.requests[0]!.headers['x-amz-firehose-request-id']);
      // Time runs on, 5 s a step, until RetryOptions' 60 s are spent and the record is written to
      // the error output (one big jump could land before Eddy has even seen the second failure).
      const [err] = await waitFor(() => {
        const o = listObjects(t.dataDir!, bucket);
        if (o.length > 0) return o;
        t.clock!.advance(5_000);
        return undefined;
      }, 'the error output');
      assert.match(err!.key, keyPattern(name, 1, '', 'failed/http-endpoint-failed/'));
      const doc = JSON.parse(err!.body.toString().trim()) as Record<string, unknown>;
      assert.equal(Buffer.from(doc.rawData as string, 'base64').toString(), 'three');
      assert.match(String(doc.errorCode), /^HttpEndpoint\./);
      assert.ok(Number(doc.attemptsMade) >= 3);
    });
  });

  describe('Splunk HEC', () => {
    let hec: Receiver;
    before(async () => {
      hec = await startReceiver();
    });
    after(() => hec.close());

    it('sends events to /services/collector/event with the token and waits for the acknowledgment', async () => {
      const name = uniqueName('hec');
      let ack = 0;
      hec.handler = (req) => (req.url.startsWith('/services/collector/ack') ? { body: { acks: { [String(ack)]: true } } } : { body: { text: 'Success', code: 0, ackId: ++ack } });
      await fh.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          SplunkDestinationConfiguration: {
            HECEndpoint: hec.url,
            HECEndpointType: 'Event',
            HECToken: '3f1b2c4d-0000-4000-8000-1234567890ab',
            HECAcknowledgmentTimeoutInSeconds: 180,
            BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
            S3Configuration: s3Config(uniqueName('b')),
          },
        }),
      );
      await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('{"action":"login"}') }, { Data: Buffer.from('plain line') }] }));
      const req = await waitFor(() => hec.requests.find((r) => r.url === '/services/collector/event'), 'a HEC event POST');
      assert.equal(req.headers.authorization, 'Splunk 3f1b2c4d-0000-4000-8000-1234567890ab');
      assert.deepEqual(req.body.toString().split('\n'), ['{"event":{"action":"login"}}', '{"event":"plain line"}']);
      await waitFor(() => hec.requests.some((r) => r.url.startsWith('/services/collector/ack')), 'an ack poll');
      await waitFor(async () => /aws_firehose_DeliveryToSplunk_Records\{DeliveryStreamName="[^"]+"\} 2/.test(await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text())), 'DeliveryToSplunk.Records');
    });
  });

  describe('OpenSearch _bulk', () => {
    let os: Receiver;
    before(async () => {
      os = await startHttpsReceiver(() => ({ status: 200 }));
    });
    after(() => os.close());

    it('indexes each record with a _bulk request into the rotated index', async () => {
      const name = uniqueName('os');
      os.handler = (req) => {
        const lines = req.body.toString().trim().split('\n');
        const items = lines.filter((_, i) => i % 2 === 0).map((l) => ({ index: { ...(JSON.parse(l) as { index: object }).index, status: 201, result: 'created' } }));
        return { body: { took: 1, errors: false, items } };
      };
      await fh.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          AmazonopensearchserviceDestinationConfiguration: {
            RoleARN: ROLE,
            ClusterEndpoint: os.url,
            IndexName: 'logs',
            IndexRotationPeriod: 'OneDay',
            BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 },
            S3Configuration: s3Config(uniqueName('b')),
          },
        }),
      );
      await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('{"n":1}') }, { Data: Buffer.from('{"n":2}') }] }));
      const req = await waitFor(() => os.requests.find((r) => r.url === '/_bulk'), 'a _bulk request');
      const lines = req.body.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, Record<string, string>>);
      assert.equal(lines.length, 4);
      const day = new Date(t.clock!.now());
      const index = `logs-${day.getUTCFullYear()}-${String(day.getUTCMonth() + 1).padStart(2, '0')}-${String(day.getUTCDate()).padStart(2, '0')}`;
      assert.equal(lines[0]!.index!._index, index);
      assert.deepEqual(lines[1], { n: 1 });
      assert.deepEqual(lines[3], { n: 2 });
    });
  });

  describe('Redshift COPY onto PostgreSQL', () => {
    let db: Postgres | undefined;
    let client: pg.Client | undefined;
    before(async () => {
      db = await startPostgres();
      db.psql(`CREATE ROLE fh_user LOGIN PASSWORD 'fh-pass'`);
      db.psql('CREATE DATABASE dev OWNER fh_user');
      client = new pg.Client({ host: db.host, port: db.port, user: 'fh_user', password: 'fh-pass', database: 'dev' });
      await client.connect();
      await client.query('CREATE TABLE clicks (page text, n int)');
    });
    after(async () => {
      await client?.end().catch(() => undefined);
      await db?.stop();
    });

    it('writes the intermediate S3 object and COPYs it into the table', async () => {
      const name = uniqueName('rs');
      const bucket = uniqueName('b');
      await fh.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          RedshiftDestinationConfiguration: {
            RoleARN: ROLE,
            ClusterJDBCURL: `jdbc:redshift://eddy.redshift.localhost:${db!.port}/dev`,
            CopyCommand: { DataTableName: 'clicks', CopyOptions: "JSON 'auto' GZIP" },
            Username: 'fh_user',
            Password: 'fh-pass',
            S3Configuration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${bucket}`, Prefix: 'staging/', CompressionFormat: 'GZIP', BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 1 } },
          },
        }),
      );
      await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('{"page":"/a","n":1}\n') }, { Data: Buffer.from('{"page":"/b","n":2}\n') }] }));
      const rows = await waitFor(async () => {
        const r = await client!.query('SELECT page, n FROM clicks ORDER BY n');
        return r.rows.length >= 2 ? r.rows : undefined;
      }, 'rows in PostgreSQL');
      assert.deepEqual(rows, [
        { page: '/a', n: 1 },
        { page: '/b', n: 2 },
      ]);
      const [obj] = listObjects(t.dataDir!, bucket);
      assert.match(obj!.key, keyPattern(name, 1, '.gz', 'staging/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    });
  });
});
