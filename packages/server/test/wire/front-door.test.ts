import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateStreamCommand, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { rawPost, startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

const T = 'Kinesis_20131202';

describe('the front door: AWS errors for bad input, and the process stays up', () => {
  let t: TestServer;
  let stream: string;
  before(async () => {
    t = await startTestServer();
    stream = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  });
  after(() => t.close());

  const alive = async () => {
    const r = await t.kinesis.send(new ListStreamsCommand({}));
    assert.ok(r.StreamNames?.includes(stream));
  };

  it('answers unknown targets with UnknownOperationException and a request id', async () => {
    for (const target of [`${T}.Nope`, 'Nope.ListStreams', 'garbage', undefined]) {
      const r = await rawPost(t.eddy.endpoint, target, '{}');
      assert.equal(r.status, 400, String(target));
      assert.equal(r.json?.__type, 'UnknownOperationException');
      assert.equal(r.headers.get('x-amzn-errortype'), 'UnknownOperationException');
      assert.match(r.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
    }
  });

  it('answers malformed bodies with SerializationException', async () => {
    for (const body of ['', '{', 'null', '[]', '"x"', '{"StreamName": 5}', '{"StreamName": {}}', '{"Limit": "ten"}']) {
      const r = await rawPost(t.eddy.endpoint, `${T}.ListStreams`, body.replace('StreamName', 'ExclusiveStartStreamName'));
      assert.equal(r.status, 400, body);
      assert.equal(r.json?.__type, 'SerializationException', `${body}: ${r.text}`);
    }
    const bad64 = await rawPost(t.eddy.endpoint, `${T}.PutRecord`, JSON.stringify({ StreamName: stream, PartitionKey: 'a', Data: 'abc' }));
    assert.equal(bad64.json?.__type, 'SerializationException');
    // PutRecords bodies cut short anywhere, the one-pass decoder's ground included.
    const whole = JSON.stringify({ Records: [{ Data: 'QUJDRA==', PartitionKey: 'k' }, { Data: 'QUJD', PartitionKey: 'j' }], StreamName: stream });
    for (let n = 1; n < whole.length; n += 3) {
      const r = await rawPost(t.eddy.endpoint, `${T}.PutRecords`, whole.slice(0, n));
      assert.equal(r.json?.__type, 'SerializationException', `cut at ${n}: ${r.text}`);
    }
    await alive();
  });

  it('reports constraint violations in the Coral format', async () => {
    const r = await rawPost(t.eddy.endpoint, `${T}.DescribeStream`, JSON.stringify({ StreamName: 'a b' }));
    assert.equal(r.status, 400);
    assert.equal(r.json?.__type, 'ValidationException');
    assert.equal(
      r.json?.message,
      "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    );
    const two = await rawPost(t.eddy.endpoint, `${T}.PutRecord`, JSON.stringify({ StreamName: stream, Data: 'AAAA', PartitionKey: '' }));
    assert.equal(two.json?.__type, 'ValidationException');
    assert.match(String(two.json?.message), /^1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1$/);
  });

  it('refuses oversized bodies without reading them whole', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const s = net.connect(t.eddy.port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
      });
      s.on('close', () => resolve(got));
      s.on('error', reject);
      s.write(
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: ${T}.PutRecord\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n{"StreamName":"`,
      );
    });
    assert.match(r, /^HTTP\/1\.1 413 /);
    assert.match(r, /SerializationException/);
    await alive();
  });

  it('survives garbage HTTP/2 frames and garbage bytes', async () => {
    for (const payload of [
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 4, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3, 4])]),
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(100, 0xff)]),
      Buffer.from('PRI'),
      Buffer.from([0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5]),
      Buffer.from('GARBAGE\r\n\r\n'),
    ]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(t.eddy.port, '127.0.0.1', () => s.end(payload));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
        setTimeout(() => s.destroy(), 500).unref();
      });
    }
    await alive();
  });

  it('rejects non-POST API calls as AWS does and serves CORS preflights', async () => {
    const get = await fetch(t.eddy.endpoint, { method: 'GET' });
    assert.equal(get.status, 403);
    assert.equal(((await get.json()) as { __type: string }).__type, 'AccessDeniedException');
    const pre = await fetch(t.eddy.endpoint, { method: 'OPTIONS', headers: { Origin: 'http://example.test', 'Access-Control-Request-Headers': 'x-amz-target,content-type' } });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'x-amz-target,content-type');
    const health = await fetch(`${t.eddy.endpoint}/healthz`);
    assert.equal(await health.text(), 'ok\n');
  });

  it('answers over cleartext HTTP/2 with prior knowledge', async () => {
    const session = http2.connect(t.eddy.endpoint);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${T}.ListStreams` });
        let out = '';
        req.setEncoding('utf8');
        req.on('data', (d: string) => {
          out += d;
        });
        req.on('end', () => resolve(out));
        req.on('error', reject);
        req.end('{}');
      });
      assert.ok((JSON.parse(body) as { StreamNames: string[] }).StreamNames.includes(stream));
    } finally {
      session.close();
    }
  });
});
