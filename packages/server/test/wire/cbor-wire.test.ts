/**
 * CBOR 1.1 requests as the AWS SDK for Java v2 (and so the KCL) sends them, over HTTP/1.1 and h2c,
 * against a real Eddy: Content-Type application/x-amz-cbor-1.1, X-Amz-Target, and a body that is
 * one CBOR map of the members, written as Jackson's CBORGenerator writes it (indefinite-length
 * maps and arrays, blobs as byte strings, timestamps as tag 1 over integer epoch milliseconds).
 * Answers are decoded with Eddy's codec and cross-checked with the SDK's own (@smithy/core/cbor).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { cbor as smithyCbor, tag as smithyTag } from '@smithy/core/cbor';
import { CborTagged, decodeCbor, encodeCbor } from '../../src/wire/cbor.js';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

const T = 'Kinesis_20131202';
const CBOR = 'application/x-amz-cbor-1.1';

/**
 * Jackson's CBORGenerator under the Java SDK's SdkCborGenerator: writeStartObject() and
 * writeStartArray() open indefinite-length containers (0xbf / 0x9f ... 0xff); scalars in their
 * shortest form. Leaves go through Eddy's encoder, which writes exactly those forms.
 */
function javaCbor(value: unknown): Buffer {
  if (Array.isArray(value)) return Buffer.concat([Buffer.from([0x9f]), ...value.map(javaCbor), Buffer.from([0xff])]);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof CborTagged)) {
    const parts: Buffer[] = [Buffer.from([0xbf])];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(encodeCbor(k), javaCbor(v));
    parts.push(Buffer.from([0xff]));
    return Buffer.concat(parts);
  }
  return encodeCbor(value);
}

/** Instant.toEpochMilli() under tag 1, as SdkCborGenerator.writeValue(Instant) writes it. */
const instant = (ms: number): CborTagged => new CborTagged(1, ms);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly raw: Buffer;
}

type Transport = 'HTTP/1.1' | 'h2c';

/** One raw POST over the given transport (keep-alive HTTP/1.1 agent, or one shared h2c session). */
function makePoster(endpoint: string, transport: Transport) {
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let session: http2.ClientHttp2Session | undefined;
  const post = (target: string, body: Buffer, contentType = CBOR): Promise<Answer> => {
    const headers = {
      'content-type': contentType,
      'x-amz-target': `${T}.${target}`,
      'user-agent': 'aws-sdk-java/2.25.0 Linux/6 OpenJDK_64-Bit_Server_VM/21 Java/21 vendor/Eclipse_Adoptium io/async http/NettyNio cfg/retry-mode/legacy',
      'amz-sdk-invocation-id': crypto.randomUUID(),
      'amz-sdk-request': 'attempt=1; max=4',
      'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
    };
    return new Promise((resolve, reject) => {
      const collect = (status: number, h: Answer['headers'], stream: NodeJS.ReadableStream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, headers: h, raw: Buffer.concat(chunks) }));
        stream.on('error', reject);
      };
      if (transport === 'HTTP/1.1') {
        const req = http.request(
          { host: url.hostname, port: url.port, method: 'POST', path: '/', agent, headers: { ...headers, 'content-length': String(body.length) } },
          (res) => collect(res.statusCode ?? 0, res.headers, res),
        );
        req.on('error', reject);
        req.end(body);
      } else {
        session ??= http2.connect(endpoint);
        const req = session.request({ ':method': 'POST', ':path': '/', ...headers, 'content-length': String(body.length) });
        req.on('response', (h) => collect(Number(h[':status']), h, req));
        req.on('error', reject);
        req.end(body);
      }
    });
  };
  return {
    post,
    close() {
      agent.destroy();
      session?.close();
    },
  };
}

/** Decodes an answer with Eddy's codec and checks that the SDK's codec reads the same thing. */
function decode(a: Answer): Record<string, unknown> {
  assert.equal(a.headers['content-type'], CBOR);
  assert.match(String(a.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);
  const ours = decodeCbor(a.raw) as Record<string, unknown>;
  const theirs = smithyCbor.deserialize(a.raw) as unknown;
  assert.deepStrictEqual(normalize(theirs), normalize(ours));
  return ours;
}

/** A codec-neutral view: tags as {tag, value}, byte strings as hex, objects plain. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (v instanceof CborTagged) return { tag: v.tag, value: normalize(v.value) };
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('tag' in o && 'value' in o && Object.keys(o).length === 2) return { tag: Number(o.tag), value: normalize(o.value) };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

/** Tag 1 over an integer number of milliseconds, on the wire as c1 1b <u64>. */
function assertInstant(v: unknown, raw: Buffer, expectedMs?: number): number {
  assert.ok(v instanceof CborTagged, `a tagged timestamp, got ${String(v)}`);
  assert.equal(v.tag, 1);
  assert.equal(typeof v.value, 'number');
  const ms = v.value as number;
  assert.ok(Number.isInteger(ms), `integer milliseconds, got ${ms}`);
  if (expectedMs !== undefined) assert.equal(ms, expectedMs);
  const wire = Buffer.alloc(10);
  wire[0] = 0xc1;
  wire[1] = 0x1b;
  wire.writeBigUInt64BE(BigInt(ms), 2);
  assert.ok(raw.includes(wire), 'the answer carries c1 1b <u64 millis>');
  return ms;
}

describe('CBOR 1.1 as the Java SDK sends it', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ manualClock: true });
  });
  after(() => t.close());

  it('javaCbor writes what Jackson writes (checked against a hand-written Java SDK PutRecord body)', () => {
    const body = javaCbor({ StreamName: 's', PartitionKey: 'pk', Data: Buffer.from([0, 1, 2]) });
    assert.equal(
      body.toString('hex'),
      'bf6a53747265616d4e616d6561736c506172746974696f6e4b657962706b644461746143000102ff',
    );
    assert.equal(javaCbor({ Records: [{ A: 1 }], T: instant(1700000000123) }).toString('hex'), 'bf675265636f7264739fbf614101ffff6154c11b0000018bcfe5687bff');
  });

  for (const transport of ['HTTP/1.1', 'h2c'] as const) {
    describe(`over ${transport}`, () => {
      let p: ReturnType<typeof makePoster>;
      const name = uniqueName('cbor');
      before(() => {
        p = makePoster(t.eddy.endpoint, transport);
      });
      after(() => p.close());

      it('creates a stream and describes its summary with a tag-1 millisecond creation time', async () => {
        const created = await p.post('CreateStream', javaCbor({ StreamName: name, ShardCount: 2 }));
        assert.equal(created.status, 200, created.raw.toString('hex'));
        assert.equal(created.headers['content-type'], CBOR);
        if (created.raw.length > 0) assert.deepEqual(normalize(decodeCbor(created.raw)), {});

        const a = await p.post('DescribeStreamSummary', javaCbor({ StreamName: name }));
        assert.equal(a.status, 200);
        const s = decode(a).StreamDescriptionSummary as Record<string, unknown>;
        assert.equal(s.StreamName, name);
        assert.equal(s.StreamARN, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);
        assert.equal(s.StreamStatus, 'ACTIVE');
        assert.equal(s.OpenShardCount, 2);
        assert.equal(s.RetentionPeriodHours, 24);
        assertInstant(s.StreamCreationTimestamp, a.raw, t.clock!.now());
      });

      it('puts records with byte-string data and reads them back as byte strings with tag-1 arrival times', async () => {
        const clock = t.clock!;
        const first = clock.now();
        const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const one = await p.post('PutRecord', javaCbor({ StreamName: name, PartitionKey: 'p', ExplicitHashKey: '0', Data: binary }));
        assert.equal(one.status, 200, one.raw.toString());
        const put = decode(one);
        assert.equal(put.ShardId, 'shardId-000000000000');
        assert.match(String(put.SequenceNumber), /^\d{56}$/);
        assert.equal(put.EncryptionType, 'NONE');

        clock.advance(10_000);
        const second = clock.now();
        const datas = [Buffer.from('zwei'), Buffer.alloc(0), Buffer.from([0xff, 0xfe, 0x00, 0xbf, 0x9f])];
        const many = await p.post(
          'PutRecords',
          javaCbor({ StreamName: name, Records: datas.map((Data, i) => ({ Data, PartitionKey: `k${i}`, ExplicitHashKey: '1' })) }),
        );
        assert.equal(many.status, 200, many.raw.toString());
        const batch = decode(many) as { FailedRecordCount: number; Records: { ShardId: string; SequenceNumber: string }[]; EncryptionType: string };
        assert.equal(batch.FailedRecordCount, 0);
        assert.equal(batch.EncryptionType, 'NONE');
        assert.deepEqual(batch.Records.map((r) => r.ShardId), ['shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000']);

        // TRIM_HORIZON: all four, data as byte strings, arrival as tag 1 + the exact clock millis.
        const it0 = decode(await p.post('GetShardIterator', javaCbor({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' })));
        const got = await p.post('GetRecords', javaCbor({ ShardIterator: it0.ShardIterator, Limit: 100 }));
        assert.equal(got.status, 200);
        const out = decode(got) as { Records: Record<string, unknown>[]; NextShardIterator: string; MillisBehindLatest: number };
        assert.equal(out.Records.length, 4);
        const expected = [binary, ...datas];
        out.Records.forEach((r, i) => {
          assert.ok(Buffer.isBuffer(r.Data), 'Data is a byte string');
          assert.ok((r.Data as Buffer).equals(expected[i]!), `record ${i} bytes`);
          assertInstant(r.ApproximateArrivalTimestamp, got.raw, i === 0 ? first : second);
        });
        assert.equal(out.Records[0]!.SequenceNumber, put.SequenceNumber);
        assert.deepEqual(out.Records.slice(1).map((r) => r.SequenceNumber), batch.Records.map((r) => r.SequenceNumber));
        assert.equal(typeof out.NextShardIterator, 'string');
        assert.equal(out.MillisBehindLatest, 0);

        // AT_TIMESTAMP with a tag-1 millisecond Instant between the two writes: only the batch.
        const at = await p.post(
          'GetShardIterator',
          javaCbor({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: instant(first + 5_000) }),
        );
        assert.equal(at.status, 200, at.raw.toString());
        const later = decode(await p.post('GetRecords', javaCbor({ ShardIterator: decode(at).ShardIterator }))) as { Records: { SequenceNumber: string }[] };
        assert.deepEqual(later.Records.map((r) => r.SequenceNumber), batch.Records.map((r) => r.SequenceNumber));
        // ... and exactly at the first arrival millisecond: everything.
        const exact = decode(await p.post(
          'GetShardIterator',
          javaCbor({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: instant(first) }),
        ));
        const all = decode(await p.post('GetRecords', javaCbor({ ShardIterator: exact.ShardIterator }))) as { Records: unknown[] };
        assert.equal(all.Records.length, 4);

        // The SDK family's own encoder (definite-length containers) is read the same way.
        const smithyBody = Buffer.from(
          smithyCbor.serialize({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: smithyTag({ tag: 1, value: second }) }),
        );
        const viaSmithy = decode(await p.post('GetShardIterator', smithyBody));
        const same = decode(await p.post('GetRecords', javaCbor({ ShardIterator: viaSmithy.ShardIterator }))) as { Records: { SequenceNumber: string }[] };
        assert.deepEqual(same.Records.map((r) => r.SequenceNumber), batch.Records.map((r) => r.SequenceNumber));
      });

      it('answers errors as CBOR maps {__type, message} with status 400', async () => {
        const missing = await p.post('DescribeStreamSummary', javaCbor({ StreamName: `${name}-missing` }));
        assert.equal(missing.status, 400);
        assert.equal(missing.headers['x-amzn-errortype'], 'ResourceNotFoundException');
        assert.deepEqual(normalize(decode(missing)), {
          __type: 'ResourceNotFoundException',
          message: `Stream ${name}-missing under account 000000000000 not found.`,
        });

        const invalid = await p.post('DescribeStreamSummary', javaCbor({ StreamName: 'a b' }));
        assert.equal(invalid.status, 400);
        assert.deepEqual(normalize(decode(invalid)), {
          __type: 'ValidationException',
          message:
            "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        });

        const future = await p.post(
          'GetShardIterator',
          javaCbor({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: instant(t.clock!.now() + 60_000) }),
        );
        assert.equal(future.status, 400);
        const f = decode(future);
        assert.equal(f.__type, 'InvalidArgumentException');
        assert.equal(
          f.message,
          `The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${t.clock!.now() + 60_000}, currentTimestampInMillis: ${t.clock!.now()}`,
        );

        const unknown = await p.post('NoSuchOperation', javaCbor({}));
        assert.equal(unknown.status, 400);
        assert.equal(decode(unknown).__type, 'UnknownOperationException');

        // Text where a blob belongs in CBOR is not base64 to decode: byte strings only for text.
        const wrongType = await p.post('DescribeStreamSummary', javaCbor({ StreamName: Buffer.from(name) }));
        assert.equal(wrongType.status, 400);
        assert.equal(decode(wrongType).__type, 'SerializationException');
      });

      it('answers every truncation of a request with SerializationException and stays up', async () => {
        const body = javaCbor({ StreamName: name, PartitionKey: 'p', Data: Buffer.from('truncate me'), ExplicitHashKey: '0' });
        for (let n = 0; n < body.length; n++) {
          const r = await p.post('PutRecord', body.subarray(0, n));
          assert.equal(r.status, 400, `prefix of ${n} bytes`);
          const e = decode(r);
          assert.equal(e.__type, 'SerializationException', `prefix of ${n} bytes: ${String(e.message)}`);
        }
        // Garbage that is not CBOR at all, and a break byte with no container.
        for (const junk of [Buffer.from([0xff]), Buffer.from([0x1c]), Buffer.from('{"StreamName":"x"}')]) {
          const r = await p.post('DescribeStreamSummary', junk);
          assert.equal(r.status, 400);
          assert.equal(decode(r).__type, 'SerializationException');
        }
        // Nothing was written by any of them, and the server still answers both protocols.
        const it0 = decode(await p.post('GetShardIterator', javaCbor({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' })));
        const ok = await p.post('PutRecord', body);
        assert.equal(ok.status, 200);
        const after = decode(await p.post('GetRecords', javaCbor({ ShardIterator: it0.ShardIterator }))) as { Records: { Data: Buffer }[] };
        assert.deepEqual(after.Records.map((r) => r.Data.toString()), ['truncate me']);
        const streams = await t.kinesis.send(new ListStreamsCommand({}));
        assert.ok(streams.StreamNames?.includes(name));
      });
    });
  }
});
