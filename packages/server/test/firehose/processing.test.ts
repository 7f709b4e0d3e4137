import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateDeliveryStreamCommand, type ExtendedS3DestinationConfiguration, type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { parquetReadObjects } from 'hyparquet';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { decode, firehoseClient, keyPattern, listObjects, ROLE, type S3Object, waitFor } from './helpers.js';

const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:shout';

/**
 * A transformation function with the Firehose record contract: upper-cases `text`, drops records
 * whose text is "drop", fails those whose text is "fail", and gives every record a partition key.
 */
const SHOUT = `
export async function handler(event) {
  return {
    records: event.records.map((r) => {
      const doc = JSON.parse(Buffer.from(r.data, 'base64').toString('utf8'));
      if (doc.text === 'drop') return { recordId: r.recordId, result: 'Dropped' };
      if (doc.text === 'fail') return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
      const out = { ...doc, text: doc.text.toUpperCase(), stream: event.deliveryStreamArn.split('/').pop() };
      return {
        recordId: r.recordId,
        result: 'Ok',
        data: Buffer.from(JSON.stringify(out) + '\\n').toString('base64'),
        metadata: { partitionKeys: { kind: doc.kind ?? 'none' } },
      };
    }),
  };
}
`;

const CATALOG = {
  databases: {
    sales: {
      tables: {
        orders: {
          columns: [
            { Name: 'id', Type: 'int' },
            { Name: 'customer', Type: 'string' },
            { Name: 'amount', Type: 'double' },
            { Name: 'tags', Type: 'array<string>' },
          ],
        },
      },
    },
  },
};

const json = (o: unknown) => ({ Data: Buffer.from(JSON.stringify(o)) });

describe('Firehose processing: Lambda, dynamic partitioning with jq, Parquet', () => {
  let t: TestServer;
  let fh: FirehoseClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eddy-fh-proc-'));
    writeFileSync(join(dir, 'shout.mjs'), SHOUT);
    writeFileSync(join(dir, 'glue.json'), JSON.stringify(CATALOG));
    t = await startTestServer({ disk: true, manualClock: true, options: { lambdaDir: dir, glueCatalog: join(dir, 'glue.json') } });
    fh = firehoseClient(t.eddy.endpoint);
  });
  after(async () => {
    fh.destroy();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function create(bucket: string, c: Partial<ExtendedS3DestinationConfiguration>): Promise<string> {
    const name = uniqueName('proc');
    await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${bucket}`, ...c } }));
    return name;
  }

  /** Advances the clock past the interval and waits until the bucket holds n objects. */
  async function flushed(bucket: string, n: number): Promise<S3Object[]> {
    await new Promise((r) => setTimeout(r, 200));
    t.clock!.advance(61_000);
    return waitFor(() => {
      const o = listObjects(t.dataDir!, bucket);
      return o.length >= n ? o : undefined;
    }, `${n} objects in ${bucket}`);
  }

  it('transforms through a Lambda function: Ok records delivered, Dropped gone, ProcessingFailed to the error output', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, {
      Prefix: 'ok/',
      ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: LAMBDA_ARN }] }] },
    });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [json({ text: 'hello' }), json({ text: 'drop' }), json({ text: 'fail' }), json({ text: 'world' })] }));
    const objs = await flushed(bucket, 2);
    const ok = objs.find((o) => o.key.startsWith('ok/'))!;
    assert.match(ok.key, keyPattern(name, 1, '', 'ok/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    assert.deepEqual(
      ok.body.toString().trim().split('\n').map((l) => JSON.parse(l) as unknown),
      [
        { text: 'HELLO', stream: name },
        { text: 'WORLD', stream: name },
      ],
    );
    const err = objs.find((o) => o.key.startsWith('errors/'))!;
    assert.match(err.key, keyPattern(name, 1, '', 'errors/processing-failed/'));
    const docs = err.body.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(docs.length, 1);
    assert.equal(docs[0]!.errorCode, 'Lambda.ProcessingFailedStatus');
    assert.equal(docs[0]!.lambdaArn, LAMBDA_ARN);
    assert.equal(Buffer.from(docs[0]!.rawData as string, 'base64').toString(), '{"text":"fail"}');
    for (const k of ['attemptsMade', 'arrivalTimestamp', 'errorMessage', 'attemptEndingTimestamp']) assert.ok(k in docs[0]!, k);
  });

  it('partitions dynamically with jq, evaluating partitionKeyFromQuery and timestamps in the prefix', async () => {
    const bucket = uniqueName('b');
    t.clock!.set(Date.UTC(2025, 6, 4, 12, 0, 0));
    const name = await create(bucket, {
      Prefix: 'customer=!{partitionKeyFromQuery:customer}/year=!{partitionKeyFromQuery:year}/!{timestamp:yyyy-MM}/',
      ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      DynamicPartitioningConfiguration: { Enabled: true },
      ProcessingConfiguration: {
        Enabled: true,
        Processors: [
          {
            Type: 'MetadataExtraction',
            Parameters: [
              { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{customer: .customer, year: (.ts | strftime("%Y"))}' },
              { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
            ],
          },
          { Type: 'AppendDelimiterToRecord' },
        ],
      },
    });
    await fh.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: [json({ customer: 'acme', ts: 1_700_000_000, n: 1 }), json({ customer: 'globex', ts: 1_600_000_000, n: 2 }), json({ customer: 'acme', ts: 1_700_000_001, n: 3 }), { Data: Buffer.from('not json') }],
      }),
    );
    const objs = await flushed(bucket, 3);
    t.clock!.set(Date.now());
    const acme = objs.find((o) => o.key.startsWith('customer=acme/'))!;
    assert.match(acme.key, keyPattern(name, 1, '', 'customer=acme/year=2023/2025-07/'));
    assert.deepEqual(acme.body.toString().trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n), [1, 3]);
    const globex = objs.find((o) => o.key.startsWith('customer=globex/'))!;
    assert.match(globex.key, keyPattern(name, 1, '', 'customer=globex/year=2020/2025-07/'));
    const err = objs.find((o) => o.key.startsWith('errors/processing-failed/'))!;
    const doc = JSON.parse(err.body.toString().trim()) as Record<string, unknown>;
    assert.equal(doc.errorCode, 'DynamicPartitioning.MetadataExtractionFailed');
    assert.equal(Buffer.from(doc.rawData as string, 'base64').toString(), 'not json');
    const text = await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text());
    assert.match(text, new RegExp(`aws_firehose_JQProcessing_Duration_count\\{DeliveryStreamName="${name}"\\} \\d+`));
  });

  it('partitions by the keys a Lambda function returns', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, {
      Prefix: 'kind=!{partitionKeyFromLambda:kind}/',
      ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      DynamicPartitioningConfiguration: { Enabled: true },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: LAMBDA_ARN }] }] },
    });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [json({ text: 'a', kind: 'x' }), json({ text: 'b', kind: 'y' }), json({ text: 'c', kind: 'x' })] }));
    const objs = await flushed(bucket, 2);
    const x = objs.find((o) => o.key.startsWith('kind=x/'))!;
    assert.match(x.key, keyPattern(name, 1, '', 'kind=x/'));
    assert.deepEqual(x.body.toString().trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text), ['A', 'C']);
    assert.ok(objs.some((o) => o.key.startsWith('kind=y/')));
  });

  it('converts JSON to Parquet with the catalog table, and sends misfits to format-conversion-failed', async () => {
    const bucket = uniqueName('b');
    const name = await create(bucket, {
      Prefix: 'parquet/',
      ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      DataFormatConversionConfiguration: {
        Enabled: true,
        SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'sales', TableName: 'orders', Region: 'us-east-1', VersionId: 'LATEST' },
        InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
        OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      },
    });
    await fh.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: [
          json({ id: 1, Customer: 'acme', amount: 9.5, tags: ['a', 'b'] }),
          json({ id: 2, customer: 'globex', amount: '12.25' }),
          json({ id: 'not a number', customer: 'x' }),
        ],
      }),
    );
    const objs = await flushed(bucket, 2);
    const pq = objs.find((o) => o.key.startsWith('parquet/'))!;
    assert.match(pq.key, keyPattern(name, 1, '.parquet', 'parquet/\\d{4}/\\d{2}/\\d{2}/\\d{2}/'));
    assert.equal(pq.body.subarray(0, 4).toString(), 'PAR1');
    const file = new Uint8Array(pq.body).buffer;
    const rows = await parquetReadObjects({ file });
    assert.deepEqual(rows, [
      { id: 1, customer: 'acme', amount: 9.5, tags: ['a', 'b'] },
      { id: 2, customer: 'globex', amount: 12.25, tags: undefined },
    ]);
    const err = objs.find((o) => o.key.startsWith('errors/format-conversion-failed/'))!;
    const doc = JSON.parse(decode(err.key, err.body).toString().trim()) as Record<string, unknown>;
    assert.equal(doc.lastErrorCode, 'DataFormatConversion.MalformedData');
    assert.equal(Buffer.from(doc.rawData as string, 'base64').toString(), '{"id":"not a number","customer":"x"}');
    assert.deepEqual((doc.dataCatalogTable as Record<string, unknown>).tableName, 'orders');
    const text = await fetch(`${t.eddy.endpoint}/metrics`).then((r) => r.text());
    assert.match(text, new RegExp(`aws_firehose_SucceedConversion_Records\\{DeliveryStreamName="${name}"\\} 2\\n`));
    assert.match(text, new RegExp(`aws_firehose_FailedConversion_Records\\{DeliveryStreamName="${name}"\\} 1\\n`));
  });
});
