/**
 * Authentication end to end: a real Eddy with `auth: 'sigv4'` and keys mapped to accounts, driven
 * by the real SDK (h2c and HTTP/1.1), raw unsigned requests and presigned URLs; and with
 * `auth: 'none'`, what is still checked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListStreamsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials } from '../../src/wire/sigv4.js';
import { client, rawPost, startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

const T = 'Kinesis_20131202';

const ALICE: Credentials = { accessKeyId: 'AKIDALICEEDDYTEST001', secretAccessKey: 'alice/Secret+Key=0000000000000000000000', accountId: '111111111111' };
const BOB: Credentials = { accessKeyId: 'AKIDBOBEDDYTEST00002', secretAccessKey: 'bob-secret', accountId: '222222222222' };
/** A third key that comes from a credentials file in the AWS CLI's INI form, with no account. */
const CAROL = { accessKeyId: 'AKIDCAROLEDDYTEST003', secretAccessKey: 'carol-secret' };

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** Asserts an SDK call fails with the given AWS error type (and message, when given). */
async function rejectsWith(p: Promise<unknown>, type: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.name, type, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

const sdk = (t: TestServer, creds: { accessKeyId: string; secretAccessKey: string }, http1: boolean, region = 'us-east-1'): KinesisClient =>
  client(t.eddy.endpoint, http1, { credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }, region });

describe("auth: 'sigv4' with keys mapped to accounts", () => {
  let t: TestServer;
  let dir: string;
  const clients: KinesisClient[] = [];
  const make = (creds: { accessKeyId: string; secretAccessKey: string }, http1: boolean, region?: string): KinesisClient => {
    const c = sdk(t, creds, http1, region);
    clients.push(c);
    return c;
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eddy-auth-'));
    const file = join(dir, 'credentials');
    writeFileSync(file, `[carol]\naws_access_key_id = ${CAROL.accessKeyId}\naws_secret_access_key = ${CAROL.secretAccessKey}\n`);
    t = await startTestServer({ options: { auth: 'sigv4', credentials: [ALICE, BOB], credentialsFile: file, accountId: '333333333333' } });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const http1 of [false, true]) {
    it(`the right key works over ${http1 ? 'HTTP/1.1' : 'h2c'}, and each account sees only its own streams`, async () => {
      const alice = make(ALICE, http1);
      const bob = make(BOB, http1);
      const same = uniqueName('auth');
      const onlyAlice = uniqueName('auth');
      await alice.send(new CreateStreamCommand({ StreamName: same, ShardCount: 1 }));
      await alice.send(new CreateStreamCommand({ StreamName: onlyAlice, ShardCount: 1 }));
      // The same name in another account is another stream.
      await bob.send(new CreateStreamCommand({ StreamName: same, ShardCount: 2 }));

      const a = (await alice.send(new DescribeStreamSummaryCommand({ StreamName: same }))).StreamDescriptionSummary!;
      const b = (await bob.send(new DescribeStreamSummaryCommand({ StreamName: same }))).StreamDescriptionSummary!;
      assert.equal(a.StreamARN, `arn:aws:kinesis:us-east-1:111111111111:stream/${same}`);
      assert.equal(b.StreamARN, `arn:aws:kinesis:us-east-1:222222222222:stream/${same}`);
      assert.equal(a.OpenShardCount, 1);
      assert.equal(b.OpenShardCount, 2);

      const aliceNames = (await alice.send(new ListStreamsCommand({}))).StreamNames ?? [];
      const bobNames = (await bob.send(new ListStreamsCommand({}))).StreamNames ?? [];
      assert.ok(aliceNames.includes(same) && aliceNames.includes(onlyAlice));
      assert.ok(bobNames.includes(same));
      assert.ok(!bobNames.includes(onlyAlice), 'bob does not see alice-only streams');

      await rejectsWith(
        bob.send(new DescribeStreamSummaryCommand({ StreamName: onlyAlice })),
        'ResourceNotFoundException',
        `Stream ${onlyAlice} under account 222222222222 not found.`,
      );
      // Naming alice's stream by ARN does not get bob into it.
      await rejectsWith(
        bob.send(new DescribeStreamSummaryCommand({ StreamARN: `arn:aws:kinesis:us-east-1:111111111111:stream/${onlyAlice}` })),
        'AccessDeniedException',
      );

      // Records written by one account are read back by it, through a signed GetRecords.
      const put = await alice.send(new PutRecordCommand({ StreamName: onlyAlice, PartitionKey: 'k', Data: Buffer.from('signed') }));
      const it0 = await alice.send(new GetShardIteratorCommand({ StreamName: onlyAlice, ShardId: put.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
      const got = await alice.send(new GetRecordsCommand({ ShardIterator: it0.ShardIterator! }));
      assert.deepEqual(got.Records?.map((r) => Buffer.from(r.Data!).toString()), ['signed']);
      // An iterator is no key to another account's shard.
      await rejectsWith(bob.send(new GetRecordsCommand({ ShardIterator: it0.ShardIterator! })), 'ResourceNotFoundException');
    });

    it(`refuses a wrong secret, an unknown key, and names them apart over ${http1 ? 'HTTP/1.1' : 'h2c'}`, async () => {
      await rejectsWith(make({ ...ALICE, secretAccessKey: 'not-her-secret' }, http1).send(new ListStreamsCommand({})), 'InvalidSignatureException', MISMATCH);
      await rejectsWith(
        make({ accessKeyId: 'AKIDNOBODYEDDYTEST99', secretAccessKey: 'x' }, http1).send(new ListStreamsCommand({})),
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    });
  }

  it('maps a key from the credentials file to the default account, and the region of the signature scopes streams', async () => {
    const carol = make(CAROL, true);
    const name = uniqueName('auth');
    await carol.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const s = (await carol.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
    assert.equal(s.StreamARN, `arn:aws:kinesis:us-east-1:333333333333:stream/${name}`);
    // Alice in another region: another set of streams, with that region in the ARN.
    const aliceEu = make(ALICE, false, 'eu-west-1');
    await aliceEu.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const eu = (await aliceEu.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
    assert.equal(eu.StreamARN, `arn:aws:kinesis:eu-west-1:111111111111:stream/${name}`);
    await rejectsWith(make(ALICE, false).send(new DescribeStreamSummaryCommand({ StreamName: name })), 'ResourceNotFoundException');
  });

  it('answers an unsigned request with MissingAuthenticationTokenException', async () => {
    const r = await rawPost(t.eddy.endpoint, `${T}.ListStreams`, '{}');
    assert.equal(r.json?.__type, 'MissingAuthenticationTokenException');
    assert.equal(r.json?.message, 'Missing Authentication Token');
    assert.equal(r.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
    assert.ok(r.status === 400 || r.status === 403, String(r.status));
    // Even for an operation that does not exist, the operation is checked first (checklist 1.1).
    const unknown = await rawPost(t.eddy.endpoint, `${T}.Nope`, '{}');
    assert.equal(unknown.json?.__type, 'UnknownOperationException');
  });

  /** A presigned POST of ListStreams or CreateStream, as @smithy/signature-v4 makes it. */
  async function presigned(creds: { accessKeyId: string; secretAccessKey: string }, target: string, body: string, opts: { signingDate?: Date; expiresIn?: number } = {}) {
    const url = new URL(t.eddy.endpoint);
    const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 'kinesis', sha256: Sha256 });
    const request = new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${T}.${target}` },
      body,
    });
    // X-Amz-Target stays a (signed) header: the service routes by it.
    const signed = await signer.presign(request, { expiresIn: opts.expiresIn ?? 300, unhoistableHeaders: new Set(['x-amz-target']), ...(opts.signingDate ? { signingDate: opts.signingDate } : {}) });
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(signed.query ?? {})) for (const x of Array.isArray(v) ? v : [v]) if (x !== null) query.append(k, x);
    assert.ok(query.get('X-Amz-Signature'), 'signed in the query string');
    assert.equal(signed.headers.authorization, undefined);
    return { url: `${t.eddy.endpoint}/?${query.toString()}`, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${T}.${target}` } };
  }
  async function postTo(p: { url: string; headers: Record<string, string> }, body: string) {
    const res = await fetch(p.url, { method: 'POST', headers: p.headers, body });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  it('accepts a presigned URL, for the key it names, and refuses one tampered with or expired', async () => {
    const name = uniqueName('presigned');
    const body = JSON.stringify({ StreamName: name, ShardCount: 1 });
    const created = await postTo(await presigned(BOB, 'CreateStream', body), body);
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const s = (await make(BOB, true).send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
    assert.equal(s.StreamARN, `arn:aws:kinesis:us-east-1:222222222222:stream/${name}`);

    const list = await postTo(await presigned(BOB, 'ListStreams', '{}'), '{}');
    assert.equal(list.status, 200);
    assert.ok((list.json.StreamNames as string[]).includes(name));

    // The body is covered by the signature.
    const other = await postTo(await presigned(BOB, 'ListStreams', '{}'), '{"Limit":1}');
    assert.equal(other.json.__type, 'InvalidSignatureException');
    assert.equal(other.json.message, MISMATCH);

    const wrong = await presigned({ ...BOB, secretAccessKey: 'nope' }, 'ListStreams', '{}');
    assert.equal((await postTo(wrong, '{}')).json.__type, 'InvalidSignatureException');

    const expired = await postTo(await presigned(BOB, 'ListStreams', '{}', { signingDate: new Date(Date.now() - 3_600_000), expiresIn: 60 }), '{}');
    assert.equal(expired.json.__type, 'InvalidSignatureException');
    assert.match(String(expired.json.message), /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z/);

    const unknownKey = await postTo(await presigned({ accessKeyId: 'AKIDNOBODYEDDYTEST99', secretAccessKey: 'x' }, 'ListStreams', '{}'), '{}');
    assert.equal(unknownKey.json.__type, 'UnrecognizedClientException');
  });
});

describe("auth: 'none'", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('takes unsigned requests, and signed ones with any key, in the configured account', async () => {
    const name = uniqueName('open');
    const created = await rawPost(t.eddy.endpoint, `${T}.CreateStream`, JSON.stringify({ StreamName: name, ShardCount: 1 }));
    assert.equal(created.status, 200, created.text);
    const d = await rawPost(t.eddy.endpoint, `${T}.DescribeStreamSummary`, JSON.stringify({ StreamName: name }));
    assert.equal((d.json?.StreamDescriptionSummary as Record<string, unknown>).StreamARN, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);
    const anyKey = sdk(t, { accessKeyId: 'ANYTHING', secretAccessKey: 'whatever' }, false);
    try {
      assert.ok((await anyKey.send(new ListStreamsCommand({}))).StreamNames?.includes(name));
    } finally {
      anyKey.destroy();
    }
  });

  it('answers a malformed Authorization header with IncompleteSignatureException', async () => {
    const cases: [string, RegExp][] = [
      ['AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request', /Authorization header requires 'Signature' parameter\./],
      ['AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature', /not a valid key=value pair \(missing equal-sign\)/],
      ['a', /Authorization header requires 'Credential' parameter\./],
      ['Basic dXNlcjpwYXNz', /./],
    ];
    for (const [authorization, message] of cases) {
      const r = await rawPost(t.eddy.endpoint, `${T}.ListStreams`, '{}', { Authorization: authorization, 'X-Amz-Date': '20240101T000000Z' });
      assert.equal(r.json?.__type, 'IncompleteSignatureException', `${authorization}: ${r.text}`);
      assert.match(String(r.json?.message), message);
      assert.equal(r.headers.get('x-amzn-errortype'), 'IncompleteSignatureException');
    }
    // And the server is fine afterwards.
    assert.equal((await rawPost(t.eddy.endpoint, `${T}.ListStreams`, '{}')).status, 200);
  });
});
