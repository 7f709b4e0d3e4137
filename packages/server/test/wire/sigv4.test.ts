import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import fc from 'fast-check';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest, buildQueryString, escapeUri } from '@smithy/core/protocols';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsError } from '../../src/core/errors.js';
import {
  loadCredentialsFile,
  parseAuth,
  verifySigV4,
  type Credentials,
  type SignedRequest,
} from '../../src/wire/sigv4.js';

const ALICE: Credentials = {
  accessKeyId: 'AKIDALICE0000000000',
  secretAccessKey: 'alice/Secret+Key=0000000000000000000000',
  accountId: '111111111111',
};
const BOB: Credentials = {
  accessKeyId: 'AKIDBOB000000000000',
  secretAccessKey: 'bob-secret',
  accountId: '222222222222',
};
const lookup = (id: string): Credentials | undefined => [ALICE, BOB].find((c) => c.accessKeyId === id);

/** The signing instant of every fixture: 2024-01-15T12:34:56Z. */
const T0 = Date.UTC(2024, 0, 15, 12, 34, 56);
const MIN = 60_000;

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function signer(creds: Credentials = ALICE, region = 'us-east-1', service = 'kinesis'): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    region,
    service,
    sha256: Sha256,
  });
}

/** What @aws-sdk/client-kinesis hands its signer for ListStreams (host is set by a middleware). */
function kinesisRequest(body: string | Uint8Array = '{}', headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: 'localhost',
    port: 4567,
    path: '/',
    headers: {
      host: 'localhost:4567',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.ListStreams',
      'user-agent': 'aws-sdk-js/3 test',
      ...headers,
    },
    body,
  });
}

async function sign(req: HttpRequest, creds: Credentials = ALICE, at = T0): Promise<SignedRequest> {
  return wire(await signer(creds).sign(req, { signingDate: new Date(at) }));
}

async function presign(req: HttpRequest, expiresIn = 300, at = T0): Promise<SignedRequest> {
  return wire(await signer().presign(req, { signingDate: new Date(at), expiresIn }));
}

/** The request as a server receives it: query serialised the way the SDK's HTTP handlers do. */
function wire(req: {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}): SignedRequest {
  const qs = buildQueryString(req.query ?? {});
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v.trim();
  const body: unknown = req.body;
  return {
    method: req.method,
    path: qs === '' ? req.path : `${req.path}?${qs}`,
    headers,
    body: typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : new Uint8Array(),
  };
}

function expectAwsError(fn: () => unknown, type: string, message?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AwsError, `expected AwsError, got ${String(e)}`);
    assert.equal(e.type, type);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  });
}

const verify = (req: SignedRequest, now = T0): Credentials => verifySigV4(req, lookup, now);

/** The request with its Authorization header rewritten. */
function withAuth(req: SignedRequest, edit: (authorization: string) => string): SignedRequest {
  return { ...req, headers: { ...req.headers, authorization: edit(String(req.headers['authorization'])) } };
}

describe('verifySigV4 accepts what the SDK signs', () => {
  it('a header-signed Kinesis request, returning the matching credentials', async () => {
    assert.deepEqual(verify(await sign(kinesisRequest())), ALICE);
    assert.deepEqual(verify(await sign(kinesisRequest('{"Limit":1}'), BOB)), BOB);
  });

  it('host signed, but the request arrives over HTTP/2 with only :authority', async () => {
    const req = await sign(kinesisRequest());
    const { host, ...rest } = req.headers;
    const h2 = { ...rest, ':authority': host, ':method': 'POST', ':path': '/', ':scheme': 'http' };
    assert.deepEqual(verify({ ...req, headers: h2 }), ALICE);
  });

  it(':authority signed (as the JS SDK does over HTTP/2), but the request arrives with only host', async () => {
    const h2 = kinesisRequest();
    delete h2.headers['host'];
    h2.headers[':authority'] = 'localhost:4567';
    const req = await sign(h2);
    assert.match(String(req.headers['authorization']), /SignedHeaders=:authority;/);
    const { ':authority': authority, ...http1 } = req.headers;
    assert.deepEqual(verify(req), ALICE);
    assert.deepEqual(verify({ ...req, headers: { ...http1, host: authority } }), ALICE);
  });

  it('presigned requests, with and without a body', async () => {
    const get = new HttpRequest({
      method: 'GET',
      hostname: 'localhost',
      path: '/streams/my-stream',
      query: { Action: 'Describe', Limit: '5' },
      headers: { host: 'localhost:4567' },
    });
    assert.deepEqual(verify(await presign(get)), ALICE);
    assert.deepEqual(verify(await presign(kinesisRequest('{"Limit":2}'))), ALICE);
  });

  it('UNSIGNED-PAYLOAD, in a header or hoisted into a presigned query, leaves the body out', async () => {
    const unsigned = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    const signed = await sign(kinesisRequest('{}', unsigned));
    assert.deepEqual(verify({ ...signed, body: Buffer.from('{"other":true}') }), ALICE);
    const pre = await presign(kinesisRequest('{}', unsigned));
    assert.match(pre.path, /x-amz-content-sha256=UNSIGNED-PAYLOAD/);
    assert.deepEqual(verify({ ...pre, body: Buffer.from('anything') }), ALICE);
  });

  it('a Date header in HTTP-date form when X-Amz-Date is absent', async () => {
    const signed = await signer().sign(kinesisRequest(), {
      signingDate: new Date(T0),
      unsignableHeaders: new Set(['x-amz-date']),
    });
    const req = wire(signed);
    const { 'x-amz-date': amzDate, ...rest } = req.headers;
    assert.equal(amzDate, '20240115T123456Z');
    assert.deepEqual(verify({ ...req, headers: { ...rest, date: 'Mon, 15 Jan 2024 12:34:56 GMT' } }), ALICE);
  });

  it('paths, queries and header values that need canonicalising', async () => {
    const req = new HttpRequest({
      method: 'PUT',
      hostname: 'localhost',
      // As a REST serializer writes it: each label escaped once; the signer escapes again.
      path: '/streams/my%20stream/a%2Fb/./x/../y//z/',
      query: { b: ['2', '1'], a: 'x y+z', 'ü': '€', empty: '' },
      headers: {
        host: 'localhost:4567',
        'x-custom': '  a   b \t c  ',
        'content-type': 'application/json',
      },
      body: new Uint8Array([0, 1, 2, 255]),
    });
    assert.deepEqual(verify(await sign(req)), ALICE);
    assert.deepEqual(verify(await presign(req)), ALICE);
  });

  it('repeated headers given as an array, joined with commas', async () => {
    // Node gives arrays only for some headers; a caller holding raw headers may pass any.
    const req = await sign(kinesisRequest('{}', { 'x-multi': 'a,b' }));
    assert.deepEqual(verify({ ...req, headers: { ...req.headers, 'x-multi': ['a', 'b'] } }), ALICE);
  });
});

describe("AWS's SigV4 test suite (aws-sig-v4-test-suite, 2015-08-30)", () => {
  const AKID: Credentials = {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    accountId: '123456789012',
  };
  const now = Date.UTC(2015, 7, 30, 12, 36, 0);
  const scope = 'AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';
  const vectors: {
    name: string;
    method: string;
    path: string;
    headers?: Record<string, string | string[]>;
    signed?: string;
    signature: string;
  }[] = [
    { name: 'get-vanilla', method: 'GET', path: '/', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    {
      name: 'get-vanilla-query-order-key-case',
      method: 'GET',
      path: '/?Param2=value2&Param1=value1',
      signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    },
    {
      name: 'get-vanilla-query-unreserved',
      method: 'GET',
      path:
        '/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
      signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
    },
    { name: 'get-utf8', method: 'GET', path: '/\u1234', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
    { name: 'get-space', method: 'GET', path: '/example space/', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
    { name: 'get-slashes', method: 'GET', path: '//example//', signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84' },
    {
      name: 'get-relative-relative',
      method: 'GET',
      path: '/example1/example2/../..',
      signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    },
    {
      name: 'get-header-value-trim',
      method: 'GET',
      path: '/',
      headers: { 'my-header1': 'value1', 'my-header2': '"a   b   c"' },
      signed: 'host;my-header1;my-header2;x-amz-date',
      signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
    },
    {
      name: 'get-header-key-duplicate',
      method: 'GET',
      path: '/',
      headers: { 'my-header1': ['value2', 'value2', 'value1'] },
      signed: 'host;my-header1;x-amz-date',
      signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
    },
    {
      name: 'post-header-key-sort',
      method: 'POST',
      path: '/',
      headers: { 'my-header1': 'value1' },
      signed: 'host;my-header1;x-amz-date',
      signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c',
    },
  ];
  for (const v of vectors) {
    it(v.name, () => {
      const req: SignedRequest = {
        method: v.method,
        path: v.path,
        headers: {
          host: 'example.amazonaws.com',
          'x-amz-date': '20150830T123600Z',
          ...v.headers,
          authorization: `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=${v.signed ?? 'host;x-amz-date'}, Signature=${v.signature}`,
        },
        body: new Uint8Array(),
      };
      assert.deepEqual(verifySigV4(req, (id) => (id === 'AKIDEXAMPLE' ? AKID : undefined), now), AKID);
      assert.deepEqual(parseAuth(req), { accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1', service: 'service' });
    });
  }
});

describe('verifySigV4 rejects tampering', () => {
  const cases: { name: string; change: (r: SignedRequest) => SignedRequest; type?: string; message?: string }[] = [
    {
      name: 'a flipped body byte',
      change: (r) => {
        const body = Buffer.from(r.body);
        body[0] = (body[0] ?? 0) ^ 1;
        return { ...r, body };
      },
    },
    { name: 'an appended body byte', change: (r) => ({ ...r, body: Buffer.concat([r.body, Buffer.from(' ')]) }) },
    {
      name: 'a signed header',
      change: (r) => ({ ...r, headers: { ...r.headers, 'x-amz-target': 'Kinesis_20131202.DeleteStream' } }),
    },
    { name: 'the host', change: (r) => ({ ...r, headers: { ...r.headers, host: 'localhost:4568' } }) },
    { name: 'the method', change: (r) => ({ ...r, method: 'PUT' }) },
    { name: 'the path', change: (r) => ({ ...r, path: '/x' }) },
    { name: 'an added query parameter', change: (r) => ({ ...r, path: `${r.path}?a=b` }) },
    {
      name: 'the X-Amz-Date, within the allowed skew',
      change: (r) => ({ ...r, headers: { ...r.headers, 'x-amz-date': '20240115T123457Z' } }),
    },
    {
      name: 'a false x-amz-content-sha256',
      change: (r) => ({ ...r, headers: { ...r.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }),
    },
    {
      name: 'the signature',
      change: (r) => withAuth(r, (a) => a.replace(/.$/, (c) => (c === '0' ? '1' : '0'))),
    },
    {
      name: 'a shortened signature',
      change: (r) => withAuth(r, (a) => a.slice(0, -1)),
    },
    {
      name: 'the key id, to one that is not known',
      change: (r) => withAuth(r, (a) => a.replace(ALICE.accessKeyId, 'AKIDNOBODY')),
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    },
    {
      name: 'the key id, to another known key',
      change: (r) => withAuth(r, (a) => a.replace(ALICE.accessKeyId, BOB.accessKeyId)),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const req = await sign(kinesisRequest('{"Limit":10}'));
      assert.deepEqual(verify(req), ALICE);
      expectAwsError(() => verify(c.change(req)), c.type ?? 'InvalidSignatureException', c.message ?? MISMATCH);
    });
  }

  it('a different secret for the same key id', async () => {
    const req = await sign(kinesisRequest(), { ...ALICE, secretAccessKey: 'not-alices-secret' });
    expectAwsError(() => verify(req), 'InvalidSignatureException', MISMATCH);
  });

  it('unsigned headers may change freely', async () => {
    const req = await sign(kinesisRequest());
    assert.deepEqual(verify({ ...req, headers: { ...req.headers, 'user-agent': 'other', 'x-new': '1' } }), ALICE);
  });

  it('presigned: the expiry, a query parameter or the signature', async () => {
    const req = await presign(kinesisRequest(), 300);
    assert.deepEqual(verify(req), ALICE);
    for (const path of [
      req.path.replace('X-Amz-Expires=300', 'X-Amz-Expires=900'),
      req.path.replace('X-Amz-Algorithm', 'extra=1&X-Amz-Algorithm'),
      req.path.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000'),
    ]) {
      assert.notEqual(path, req.path);
      expectAwsError(() => verify({ ...req, path }), 'InvalidSignatureException', MISMATCH);
    }
    expectAwsError(() => verify({ ...req, body: Buffer.from('{"Limit":1}') }), 'InvalidSignatureException', MISMATCH);
  });
});

describe('verifySigV4 and the clock', () => {
  it('allows 15 minutes of skew either way, and words the refusal as AWS does', async () => {
    const req = await sign(kinesisRequest());
    assert.deepEqual(verify(req, T0 + 15 * MIN), ALICE);
    assert.deepEqual(verify(req, T0 - 15 * MIN), ALICE);
    expectAwsError(
      () => verify(req, T0 + 15 * MIN + 1000),
      'InvalidSignatureException',
      'Signature expired: 20240115T123456Z is now earlier than 20240115T123457Z (20240115T124957Z - 15 min.)',
    );
    expectAwsError(
      () => verify(req, T0 - 15 * MIN - 1000),
      'InvalidSignatureException',
      'Signature not yet current: 20240115T123456Z is still later than 20240115T123455Z (20240115T121955Z + 15 min.)',
    );
  });

  it('checks the clock before the key and the credential shape, as AWS does', async () => {
    const unknown = await sign(kinesisRequest(), { ...ALICE, accessKeyId: 'AKIDNOBODY' });
    expectAwsError(() => verify(unknown, T0 + 60 * MIN), 'InvalidSignatureException');
    expectAwsError(() => verify(unknown, T0), 'UnrecognizedClientException');
  });

  it('a presigned request lives X-Amz-Expires seconds, not 15 minutes', async () => {
    const short = await presign(kinesisRequest(), 90);
    assert.deepEqual(verify(short, T0 + 90_000), ALICE);
    expectAwsError(
      () => verify(short, T0 + 91_000),
      'InvalidSignatureException',
      'Signature expired: 20240115T123456Z is now earlier than 20240115T123457Z (20240115T123627Z - 90 sec.)',
    );
    const long = await presign(kinesisRequest(), 3 * 3600);
    assert.deepEqual(verify(long, T0 + 2 * 3600_000), ALICE);
    expectAwsError(
      () => verify(long, T0 + 3 * 3600_000 + 1000),
      'InvalidSignatureException',
      'Signature expired: 20240115T123456Z is now earlier than 20240115T123457Z (20240115T153457Z - 180 min.)',
    );
    expectAwsError(
      () => verify(long, T0 - 16 * MIN),
      'InvalidSignatureException',
      'Signature not yet current: 20240115T123456Z is still later than 20240115T123356Z (20240115T121856Z + 15 min.)',
    );
  });
});

describe('parseAuth', () => {
  const bare = (headers: SignedRequest['headers'], path = '/'): SignedRequest => ({
    method: 'POST',
    path,
    headers,
    body: new Uint8Array(),
  });
  const fresh = { host: 'localhost', 'x-amz-date': '20240115T123456Z' };
  const authz = (params: string): SignedRequest => bare({ ...fresh, authorization: params });

  it('names the signer and the scope of header and query signatures', async () => {
    const expected = { accessKeyId: ALICE.accessKeyId, region: 'us-east-1', service: 'kinesis' };
    assert.deepEqual(parseAuth(await sign(kinesisRequest())), expected);
    assert.deepEqual(parseAuth(await presign(kinesisRequest())), expected);
    const eu = wire(await signer(BOB, 'eu-west-1', 'firehose').sign(kinesisRequest(), { signingDate: new Date(T0) }));
    assert.deepEqual(parseAuth(eu), { accessKeyId: BOB.accessKeyId, region: 'eu-west-1', service: 'firehose' });
  });

  it('no authentication at all', () => {
    expectAwsError(
      () => parseAuth(bare({ host: 'h' })),
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
    );
    expectAwsError(() => parseAuth(bare({ authorization: '' })), 'MissingAuthenticationTokenException');
    expectAwsError(() => parseAuth(bare({}, '/?Other=1')), 'MissingAuthenticationTokenException');
    assert.throws(() => parseAuth(bare({})), (e: unknown) => e instanceof AwsError && e.status === 403);
  });

  it('both a header and a query signature', () => {
    expectAwsError(
      () => parseAuth(bare({ authorization: 'a' }, '/?X-Amz-Algorithm')),
      'InvalidSignatureException',
      "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
  });

  it("kinesalite's captures: a bare 'Authorization: a' and a bare '?X-Amz-Algorithm'", () => {
    expectAwsError(
      () => parseAuth(bare({ authorization: 'a' })),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=a",
    );
    expectAwsError(
      () => parseAuth(bare({}, '/?X-Amz-Algorithm')),
      'IncompleteSignatureException',
      "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
    );
  });

  it('lists only the pieces that are missing', () => {
    const header = 'AWS4-HMAC-SHA256 Credential=AKID/20240115/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date';
    expectAwsError(
      () => parseAuth(authz(header)),
      'IncompleteSignatureException',
      `Authorization header requires 'Signature' parameter. Authorization=${header}`,
    );
    expectAwsError(
      () => parseAuth(bare({ authorization: 'Bearer eyJhbGciOi.eyJzdWIi.sig' })),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer eyJhbGciOi.eyJzdWIi.sig",
    );
    expectAwsError(
      () => parseAuth(bare({}, '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Date=20240115T123456Z')),
      'IncompleteSignatureException',
      "AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.",
    );
  });

  it('a malformed Authorization header', () => {
    expectAwsError(
      () => parseAuth(authz('AWS3-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=b')),
      'IncompleteSignatureException',
      "Unsupported AWS 'algorithm': 'AWS3-HMAC-SHA256'.",
    );
    expectAwsError(
      () => parseAuth(authz('AWS4-HMAC-SHA256 FooBar, Credential=a')),
      'IncompleteSignatureException',
      "'FooBar' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 FooBar, Credential=a'",
    );
    expectAwsError(
      () => parseAuth(authz('Basic Credential=a, SignedHeaders=host, Signature=b')),
      'IncompleteSignatureException',
      "Unsupported AWS 'algorithm': 'Basic'.",
    );
  });

  it('an unknown query-string algorithm reads as no authentication', () => {
    expectAwsError(
      () =>
        parseAuth(bare({ host: 'h' }, '/?X-Amz-Algorithm=AWS5&X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=host&X-Amz-Date=20240115T123456Z')),
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
    );
  });

  it('host must be signed', () => {
    expectAwsError(
      () => parseAuth(authz('AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=x-amz-date, Signature=b')),
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  });

  it('dates that are not ISO-8601 basic format', () => {
    const header = 'AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=b';
    for (const date of ['yesterday', '2024-01-15T12:34:56Z', '20240230T000000Z', '20240115T246000Z']) {
      expectAwsError(
        () => parseAuth(bare({ host: 'h', 'x-amz-date': date, authorization: header })),
        'IncompleteSignatureException',
        `Date must be in ISO-8601 'basic format'. Got '${date}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      );
    }
    // X-Amz-Date wins over Date, even when it is the malformed one.
    expectAwsError(
      () => parseAuth(bare({ host: 'h', 'x-amz-date': 'bad', date: '20240115T123456Z', authorization: header })),
      'IncompleteSignatureException',
    );
  });

  it('X-Amz-Expires must be a number of seconds up to a week', () => {
    const base = '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=host&X-Amz-Date=20240115T123456Z';
    const cases: [string, string][] = [
      ['soon', 'X-Amz-Expires should be a number'],
      ['-1', 'X-Amz-Expires must be non-negative'],
      ['604801', 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds'],
    ];
    for (const [value, message] of cases) {
      const req = bare({ host: 'h' }, `${base}&X-Amz-Expires=${value}`);
      expectAwsError(() => parseAuth(req), 'IncompleteSignatureException', message);
    }
    assert.deepEqual(parseAuth(bare({ host: 'h' }, `${base}&X-Amz-Expires=604800`)), {
      accessKeyId: 'a',
      region: undefined,
      service: undefined,
    });
  });

  it('leaves a credential that is not five parts to verifySigV4, which checks it after the clock', () => {
    const header = 'AWS4-HMAC-SHA256 Credential=AKID/20240115/us-east-1, SignedHeaders=host;x-amz-date, Signature=b';
    assert.deepEqual(parseAuth(authz(header)), { accessKeyId: 'AKID', region: undefined, service: undefined });
    expectAwsError(
      () => verify(authz(header)),
      'IncompleteSignatureException',
      "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKID/20240115/us-east-1'",
    );
    expectAwsError(() => verify(authz(header), T0 + 60 * MIN), 'InvalidSignatureException');
  });
});

describe('verifySigV4 and the credential scope', () => {
  it('reports a wrong terminator and date together, before looking at the signature', async () => {
    const req = await sign(kinesisRequest());
    const scoped = withAuth(req, (a) =>
      a.replace('/20240115/', '/20240114/').replace('aws4_request', 'aws5_request'),
    );
    expectAwsError(
      () => verify(scoped),
      'InvalidSignatureException',
      "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240114' != '20240115', from '20240115T123456Z'.",
    );
  });

  it('checks region and service only when told what to expect', async () => {
    const req = await sign(kinesisRequest());
    assert.deepEqual(verifySigV4(req, lookup, T0, { region: 'us-east-1', service: 'kinesis' }), ALICE);
    expectAwsError(
      () => verifySigV4(req, lookup, T0, { region: 'eu-west-1', service: 'firehose' }),
      'InvalidSignatureException',
      "Credential should be scoped to a valid region, not 'us-east-1'. Credential should be scoped to correct service: 'firehose'.",
    );
  });
});

describe('the real Kinesis client, end to end', () => {
  /** Verifies each request as a server would and answers ListStreams; records what arrived. */
  function handle(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
    seen: SignedRequest[],
  ): { status: number; body: string } {
    const req: SignedRequest = { method, path, headers, body };
    seen.push(req);
    try {
      verifySigV4(req, lookup, Date.now(), { service: 'kinesis' });
      return { status: 200, body: '{"HasMoreStreams":false,"StreamNames":[]}' };
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      return { status: e.status, body: JSON.stringify({ __type: e.type, message: e.message }) };
    }
  }
  async function readAll(stream: Readable): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks);
  }
  const seen1: SignedRequest[] = [];
  const seen2: SignedRequest[] = [];
  const http1 = createServer((req, res) => {
    void readAll(req).then((body) => {
      const out = handle(req.method ?? '', req.url ?? '', req.headers, body, seen1);
      res.writeHead(out.status, { 'content-type': 'application/x-amz-json-1.1' }).end(out.body);
    });
  });
  const h2: Http2Server = createH2Server((req, res) => {
    void readAll(req).then((body) => {
      const out = handle(req.method, req.url, req.headers, body, seen2);
      res.writeHead(out.status, { 'content-type': 'application/x-amz-json-1.1' }).end(out.body);
    });
  });
  before(async () => {
    http1.listen(0, '127.0.0.1');
    h2.listen(0, '127.0.0.1');
    await Promise.all([once(http1, 'listening'), once(h2, 'listening')]);
  });
  after(() => {
    http1.close();
    h2.close();
  });
  const client = (server: { address(): AddressInfo | string | null }, creds: Credentials, h2c: boolean): KinesisClient =>
    new KinesisClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
      requestHandler: h2c ? new NodeHttp2Handler({ disableConcurrentStreams: true }) : new NodeHttpHandler(),
      maxAttempts: 1,
    });

  for (const h2c of [false, true]) {
    it(`over ${h2c ? 'h2c' : 'HTTP/1.1'}: accepts the right secret, refuses a wrong one`, async () => {
      const server = h2c ? h2 : http1;
      const seen = h2c ? seen2 : seen1;
      const good = client(server, ALICE, h2c);
      const bad = client(server, { ...ALICE, secretAccessKey: 'wrong' }, h2c);
      try {
        assert.deepEqual((await good.send(new ListStreamsCommand({}))).StreamNames, []);
        assert.deepEqual((await good.send(new ListStreamsCommand({ Limit: 5 }))).StreamNames, []);
        await assert.rejects(bad.send(new ListStreamsCommand({})), (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.equal(e.name, 'InvalidSignatureException');
          assert.equal(e.message, MISMATCH);
          return true;
        });
        const last = seen[seen.length - 1];
        assert.ok(last !== undefined);
        if (h2c) {
          // Over HTTP/2 the JS SDK sends no host header and signs the ':authority' pseudo-header.
          assert.equal(last.headers['host'], undefined);
          assert.match(String(last.headers[':authority']), /^127\.0\.0\.1:\d+$/);
          assert.match(String(last.headers['authorization']), /SignedHeaders=:authority;/);
        }
      } finally {
        good.destroy();
        bad.destroy();
      }
    });
  }
});

describe('property: whatever the SDK signs, verifySigV4 accepts', () => {
  const token = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
  const text = fc.string({ unit: 'binary', maxLength: 12 });
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
    segments: fc.array(fc.oneof(text, fc.constantFrom('.', '..', '')), { maxLength: 5 }),
    trailingSlash: fc.boolean(),
    // Keys are prefixed so that none is an X-Amz-* parameter of the presigner's.
    query: fc.dictionary(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).map((k) => `q${k}`),
      fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 3 })),
      { maxKeys: 4 },
    ),
    // Visible ASCII with inner runs of blanks; node strips the outer ones before we see them.
    headers: fc.dictionary(
      token.map((n) => `x-p-${n}`),
      fc.stringMatching(/^[\x21-\x7e][\x20-\x7e\t]{0,20}[\x21-\x7e]$/),
      { maxKeys: 5 },
    ),
    body: fc.uint8Array({ maxLength: 64 }),
    presigned: fc.boolean(),
    skewSeconds: fc.integer({ min: -900, max: 900 }),
  });

  type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never;

  function build(r: Generated): HttpRequest {
    // The wire path, as a REST serializer would write it: each segment escaped once.
    const escaped = r.segments.map((s) => (s === '.' || s === '..' ? s : escapeUri(s)));
    return new HttpRequest({
      method: r.method,
      hostname: 'localhost',
      path: `/${escaped.join('/')}${r.trailingSlash ? '/' : ''}`,
      query: r.query,
      headers: { host: 'localhost:4567', ...r.headers },
      body: r.body,
    });
  }

  it('random paths, queries, headers, bodies and clock skew', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const req = r.presigned ? await presign(build(r), 900) : await sign(build(r));
        assert.deepEqual(verify(req, T0 + r.skewSeconds * 1000), ALICE);
      }),
      { numRuns: 300 },
    );
  });

  it('and refuses the same request with any one body byte changed', async () => {
    await fc.assert(
      fc.asyncProperty(request, fc.nat(), fc.integer({ min: 1, max: 255 }), async (r, at, xor) => {
        fc.pre(r.body.length > 0);
        const req = await sign(build({ ...r, presigned: false }));
        const body = Buffer.from(req.body);
        const i = at % body.length;
        body[i] = (body[i] ?? 0) ^ xor;
        expectAwsError(() => verify({ ...req, body }), 'InvalidSignatureException', MISMATCH);
      }),
      { numRuns: 100 },
    );
  });
});

describe('loadCredentialsFile', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'eddy-sigv4-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const DEFAULT = '000000000000';

  it('reads the JSON form, defaulting the account', () => {
    const path = file(
      'creds.json',
      JSON.stringify({
        credentials: [
          { accessKeyId: 'AKID1', secretAccessKey: 's1', accountId: '123456789012' },
          { accessKeyId: 'AKID2', secretAccessKey: 's2' },
        ],
      }),
    );
    assert.deepEqual(loadCredentialsFile(path, DEFAULT), [
      { accessKeyId: 'AKID1', secretAccessKey: 's1', accountId: '123456789012' },
      { accessKeyId: 'AKID2', secretAccessKey: 's2', accountId: DEFAULT },
    ]);
  });

  it('reads the AWS CLI INI form', () => {
    const path = file(
      'credentials',
      [
        '# comment',
        '[default]',
        'aws_access_key_id = AKIDDEFAULT',
        'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        '',
        '[profile dev]',
        '; another comment',
        'AWS_ACCESS_KEY_ID=AKIDDEV',
        'aws_secret_access_key=dev=secret',
        'aws_account_id = 123456789012',
        's3 =',
        '  max_concurrent_requests = 20',
        '[ops]',
        'role_arn = arn:aws:iam::123456789012:role/ops',
        'source_profile = default',
        '[prod]',
        'aws_access_key_id: AKIDPROD',
        'aws_secret_access_key: prod',
        'account_id = 999999999999',
        'region = eu-west-1',
        '[copy]',
        'aws_access_key_id = AKIDDEFAULT',
        'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      ].join('\r\n'),
    );
    assert.deepEqual(loadCredentialsFile(path, DEFAULT), [
      { accessKeyId: 'AKIDDEFAULT', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', accountId: DEFAULT },
      { accessKeyId: 'AKIDDEV', secretAccessKey: 'dev=secret', accountId: '123456789012' },
      { accessKeyId: 'AKIDPROD', secretAccessKey: 'prod', accountId: '999999999999' },
    ]);
  });

  it('says what is wrong, and where', () => {
    const cases: [string, string, RegExp][] = [
      ['bad.json', '{"credentials": [', /not valid JSON/],
      ['shape.json', '{"keys": []}', /expected \{"credentials": \[\.\.\.\]\}/],
      ['field.json', '{"credentials": [{"accessKeyId": "A", "secretAccessKey": 5}]}', /credentials\[0\]\.secretAccessKey must be a non-empty string/],
      ['account.json', '{"credentials": [{"accessKeyId": "A", "secretAccessKey": "s", "accountId": "12"}]}', /credentials\[0\]: account id '12' is not 12 digits/],
      ['half.ini', '[dev]\naws_access_key_id = A\n', /profile 'dev' \(line 1\) has no aws_secret_access_key/],
      ['orphan.ini', 'aws_access_key_id = A\n', /:1: expected '\[profile\]' or 'key = value'/],
      ['twice.ini', '[a]\naws_access_key_id = A\naws_secret_access_key = x\n[b]\naws_access_key_id = A\naws_secret_access_key = y\n', /profile 'b' \(line 4\): access key 'A' is defined twice, differently/],
    ];
    for (const [name, text, message] of cases) {
      const path = file(name, text);
      assert.throws(() => loadCredentialsFile(path, DEFAULT), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.ok(e.message.startsWith(path), e.message);
        assert.match(e.message, message);
        return true;
      });
    }
    const noDefault = file('nodefault.json', '{"credentials": [{"accessKeyId": "A", "secretAccessKey": "s"}]}');
    assert.throws(() => loadCredentialsFile(noDefault, ''), /account id '' is not 12 digits/);
  });
});
