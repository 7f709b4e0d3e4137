/**
 * HTTPS on the same port as cleartext: `tls: true` (a self-signed certificate made at start by
 * src/wire/self-signed.ts) and `tlsCert`/`tlsKey` files, through the real SDK over h2 (ALPN) and
 * HTTP/1.1, with h2c and plain HTTP/1.1 still answered on the same port.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';
import { derInteger, selfSignedCertificate } from '../../src/wire/self-signed.js';
import { credentials, startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

/** TLS options for a client: trust nothing special and check nothing, or trust exactly `ca`. */
type Trust = { readonly rejectUnauthorized: false } | { readonly ca: string };

function sdkH2(endpoint: string, trust: Trust): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    // The SDK's own HTTP/2 handler, with node:http2 connect options for the self-signed certificate.
    requestHandler: new NodeHttp2Handler({ disableConcurrentStreams: true, nodeHttp2ConnectOptions: { ...trust } }),
  });
}

function sdkH1(endpoint: string, trust: Trust): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ keepAlive: true, ...trust }) }),
  });
}

/** Opens a TLS connection offering the given ALPN protocols; reports what was chosen and the certificate. */
function handshake(port: number, alpn: string[], trust: Trust = { rejectUnauthorized: false }): Promise<{ alpn: string | false; cert: X509Certificate; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: alpn, ...trust }, () => {
      const cert = s.getPeerX509Certificate();
      const out = { alpn: s.alpnProtocol ?? false, cert: cert!, authorized: s.authorized };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  });
}

/** One JSON call over node:http2 to an https or http endpoint. */
async function h2Call(endpoint: string, opts: http2.SecureClientSessionOptions, target: string, body: unknown): Promise<{ alpn: string | undefined; json: Record<string, unknown> }> {
  const session = http2.connect(endpoint, opts);
  try {
    const json = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Kinesis_20131202.${target}` });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (text += d));
      req.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
    return { alpn: session.alpnProtocol, json };
  } finally {
    session.close();
  }
}

/** Puts a record and reads it back through the client, proving a full round trip over it. */
async function roundTrip(k: KinesisClient, stream: string, text: string): Promise<void> {
  const put = await k.send(new PutRecordCommand({ StreamName: stream, PartitionKey: text, Data: Buffer.from(text) }));
  const it0 = await k.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: put.ShardId!, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: put.SequenceNumber! }),
  );
  const got = await k.send(new GetRecordsCommand({ ShardIterator: it0.ShardIterator!, Limit: 1 }));
  assert.equal(Buffer.from(got.Records![0]!.Data!).toString(), text);
  assert.equal(got.Records![0]!.SequenceNumber, put.SequenceNumber);
}

describe("tls: true (a self-signed certificate made at start)", () => {
  let t: TestServer;
  let stream: string;
  const clients: KinesisClient[] = [];
  before(async () => {
    t = await startTestServer({ options: { tls: true } });
    stream = uniqueName('tls');
    // (The helper's own clients do not trust a self-signed certificate.)
    const k = sdkH2(t.eddy.endpoint, { rejectUnauthorized: false });
    clients.push(k);
    await k.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await t.close();
  });

  it('names an https endpoint', () => {
    assert.match(t.eddy.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves the SDK over HTTPS with h2 (ALPN)', async () => {
    const k = sdkH2(t.eddy.endpoint, { rejectUnauthorized: false });
    clients.push(k);
    assert.ok((await k.send(new ListStreamsCommand({}))).StreamNames?.includes(stream));
    await roundTrip(k, stream, 'over h2 and TLS');
    assert.equal((await handshake(t.eddy.port, ['h2', 'http/1.1'])).alpn, 'h2');
    const raw = await h2Call(t.eddy.endpoint, { rejectUnauthorized: false }, 'ListStreams', {});
    assert.equal(raw.alpn, 'h2');
    assert.ok((raw.json.StreamNames as string[]).includes(stream));
  });

  it('serves the SDK over HTTPS with HTTP/1.1', async () => {
    const k = sdkH1(t.eddy.endpoint, { rejectUnauthorized: false });
    clients.push(k);
    await roundTrip(k, stream, 'over HTTP/1.1 and TLS');
    assert.equal((await handshake(t.eddy.port, ['http/1.1'])).alpn, 'http/1.1');
    // A client that offers no ALPN at all gets HTTP/1.1 too.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: t.eddy.port, method: 'POST', path: '/', rejectUnauthorized: false, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' } },
        (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (d: string) => (body += d));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(res.status, 200);
    assert.ok((JSON.parse(res.body) as { StreamNames: string[] }).StreamNames.includes(stream));
  });

  it('still serves h2c and plain HTTP/1.1 on the same port', async () => {
    const plain = `http://127.0.0.1:${t.eddy.port}`;
    const h2c = new KinesisClient({ endpoint: plain, region: 'us-east-1', credentials, maxAttempts: 1 });
    const h1 = new KinesisClient({ endpoint: plain, region: 'us-east-1', credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
    clients.push(h2c, h1);
    await roundTrip(h2c, stream, 'over h2c beside TLS');
    await roundTrip(h1, stream, 'over HTTP/1.1 beside TLS');
    const res = await fetch(`${plain}/healthz`);
    assert.equal(await res.text(), 'ok\n');
  });

  it('presents a certificate that parses, is self-signed, and names the loopback host', async () => {
    const { cert, authorized } = await handshake(t.eddy.port, ['h2']);
    assert.equal(authorized, false, 'self-signed: not trusted by default');
    const again = new X509Certificate(cert.raw);
    assert.equal(again.fingerprint256, cert.fingerprint256);
    const sans = (cert.subjectAltName ?? '').split(', ');
    for (const san of ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']) assert.ok(sans.includes(san), `${san} in ${cert.subjectAltName}`);
    assert.ok(cert.checkIssued(cert), 'issued by itself');
    assert.ok(cert.verify(cert.publicKey), 'signed by its own key');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    const now = Date.now();
    assert.ok(Date.parse(cert.validFrom) <= now && now < Date.parse(cert.validTo), `valid now: ${cert.validFrom} .. ${cert.validTo}`);
    // Trusting exactly this certificate makes a verified connection.
    const verified = await handshake(t.eddy.port, ['h2'], { ca: cert.toString() });
    assert.equal(verified.authorized, true);
  });
});

describe('selfSignedCertificate', () => {
  it('makes a PEM certificate and key that node:crypto and node:tls accept, for any host', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', 'eddy.internal', '::1', '10.1.2.3']) {
      const { cert, key } = selfSignedCertificate(host);
      const x = new X509Certificate(cert);
      const sans = (x.subjectAltName ?? '').split(', ');
      assert.ok(sans.includes('DNS:localhost'), host);
      assert.ok(sans.includes('IP Address:127.0.0.1'), host);
      if (host === 'eddy.internal') assert.ok(sans.includes('DNS:eddy.internal'));
      if (host === '10.1.2.3') assert.ok(sans.includes('IP Address:10.1.2.3'));
      assert.match(x.subject, host === '0.0.0.0' || host === '::' ? /CN=localhost/ : new RegExp(`CN=${host.replace(/[.:]/g, '\\$&')}`));
      assert.ok(x.verify(x.publicKey));
      assert.equal(x.ca, false);
      assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: server auth');
      // The pair goes together: a secure context takes them.
      tls.createSecureContext({ cert, key });
    }
  });

  it('writes integers in minimal DER, so that every random serial loads', () => {
    const hex = (b: Buffer) => b.toString('hex');
    assert.equal(hex(derInteger(Buffer.from([0x00, 0x12]))), '020112');
    assert.equal(hex(derInteger(Buffer.from([0x00, 0x00, 0x92]))), '02020092');
    assert.equal(hex(derInteger(Buffer.from([0x92, 0x01]))), '0203009201');
    assert.equal(hex(derInteger(Buffer.from([0x00]))), '020100');
    assert.equal(hex(derInteger(Buffer.from([0x7f, 0xff]))), '02027fff');
    // One certificate in 256 had a serial OpenSSL refused ("illegal padding") before.
    for (let i = 0; i < 300; i++) {
      const { cert, key } = selfSignedCertificate('localhost');
      tls.createSecureContext({ cert, key });
    }
  });
});

describe('tlsCert and tlsKey files', () => {
  let t: TestServer;
  let dir: string;
  let pem: { cert: string; key: string };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eddy-tls-'));
    pem = selfSignedCertificate('localhost');
    writeFileSync(join(dir, 'cert.pem'), pem.cert);
    writeFileSync(join(dir, 'key.pem'), pem.key);
    t = await startTestServer({ options: { tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') } });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves that certificate, and clients that trust it verify the connection (h2 and HTTP/1.1)', async () => {
    const { cert, authorized } = await handshake(t.eddy.port, ['h2'], { ca: pem.cert });
    assert.equal(authorized, true);
    assert.equal(cert.fingerprint256, new X509Certificate(pem.cert).fingerprint256);
    // Fully verified through the SDK, by host name, with certificate checks on.
    const endpoint = `https://localhost:${t.eddy.port}`;
    const h2 = sdkH2(endpoint, { ca: pem.cert });
    const h1 = sdkH1(endpoint, { ca: pem.cert });
    try {
      const name = uniqueName('tlsfile');
      await h2.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      await roundTrip(h2, name, 'verified h2');
      await roundTrip(h1, name, 'verified HTTP/1.1');
    } finally {
      h2.destroy();
      h1.destroy();
    }
    // Without trusting it, a verifying client refuses.
    const strict = sdkH1(endpoint, { ca: selfSignedCertificate('localhost').cert });
    try {
      await assert.rejects(strict.send(new ListStreamsCommand({})), (e: unknown) => {
        assert.match(String((e as { code?: string }).code ?? (e as Error).message), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT|signature/i);
        return true;
      });
    } finally {
      strict.destroy();
    }
  });
});
