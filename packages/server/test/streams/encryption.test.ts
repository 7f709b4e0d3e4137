/**
 * Server-side encryption (checklist 1.7 StartStreamEncryption, 1.11) through the SDK, on embedded
 * storage: the UPDATING transition, EncryptionType on answers and records, plaintext never in the
 * data files, re-keying, StopStreamEncryption, KeyId errors and a restart on the same data dir.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
  StartStreamEncryptionCommand,
  StopStreamEncryptionCommand,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

const DELAY = 1_000;
const ALIAS = 'alias/aws/kinesis';
const KEY_ARN = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';

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

/** Every byte of every file under a directory. */
function filesUnder(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(readFileSync(p));
  }
  return out;
}

/** A distinctive plaintext that cannot turn up in the files by chance. */
const marker = (label: string): string => `EDDY-PLAINTEXT-${label}-${randomBytes(12).toString('hex')}`;

describe('server-side encryption on embedded storage', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eddy-sse-'));
  let t: TestServer;
  let k: KinesisClient;
  const name = uniqueName('sse');
  /** What each record must read back as, in write order. */
  const written: { seq: string; text: string; encrypted: boolean }[] = [];
  const start = () =>
    startTestServer({ manualClock: true, options: { memory: false, dataDir, stateDelayMs: DELAY } });

  before(async () => {
    t = await start();
    k = t.kinesis;
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const summary = async () => (await k.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
  const put = async (text: string, encrypted: boolean, via: KinesisClient = k): Promise<void> => {
    const r = await via.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'pk', Data: Buffer.from(text) }));
    assert.equal(r.EncryptionType, encrypted ? 'KMS' : 'NONE', text);
    written.push({ seq: r.SequenceNumber!, text, encrypted });
  };
  const putMany = async (texts: string[], encrypted: boolean): Promise<void> => {
    const r = await k.send(new PutRecordsCommand({ StreamName: name, Records: texts.map((x) => ({ PartitionKey: 'pk', Data: Buffer.from(x) })) }));
    assert.equal(r.FailedRecordCount, 0);
    assert.equal(r.EncryptionType, encrypted ? 'KMS' : 'NONE');
    r.Records!.forEach((e, i) => written.push({ seq: e.SequenceNumber!, text: texts[i]!, encrypted }));
  };
  const readAll = async (): Promise<_Record[]> => {
    const it0 = await k.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
    return (await k.send(new GetRecordsCommand({ ShardIterator: it0.ShardIterator! }))).Records ?? [];
  };
  /** Every record written so far, in order, with its plaintext and its EncryptionType. */
  const checkAll = async (): Promise<void> => {
    const records = await readAll();
    assert.deepEqual(records.map((r) => r.SequenceNumber), written.map((w) => w.seq));
    records.forEach((r, i) => {
      const w = written[i]!;
      assert.equal(Buffer.from(r.Data!).toString(), w.text);
      if (w.encrypted) assert.equal(r.EncryptionType, 'KMS', w.text);
      else assert.ok(r.EncryptionType === undefined || r.EncryptionType === 'NONE', `${w.text}: ${r.EncryptionType}`);
    });
  };

  it('StartStreamEncryption (alias/aws/kinesis): UPDATING, then ACTIVE with KMS; records from then on are KMS', async () => {
    await k.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    t.clock!.advance(DELAY);
    await put(marker('before'), false);
    assert.equal((await summary()).EncryptionType, 'NONE');

    await k.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: ALIAS }));
    assert.equal((await summary()).StreamStatus, 'UPDATING');
    // Writes go on while UPDATING; encryption applies once the stream is ACTIVE again.
    await put(marker('updating'), false);
    await rejectsWith(k.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: ALIAS })), 'ResourceInUseException');

    t.clock!.advance(DELAY);
    const s = await summary();
    assert.equal(s.StreamStatus, 'ACTIVE');
    assert.equal(s.EncryptionType, 'KMS');
    assert.equal(s.KeyId, ALIAS);
    await put(marker('secret-one'), true);
    await putMany([marker('secret-many-a'), marker('secret-many-b')], true);
    await put(marker('secret-http1'), true, t.kinesis1);
    await checkAll();
  });

  it('keeps no plaintext of encrypted records in the data files (and does of the others)', () => {
    const files = filesUnder(dataDir);
    assert.ok(files.length > 0);
    const inFiles = (text: string) => files.some((f) => f.includes(Buffer.from(text)));
    for (const w of written) {
      // Records written in clear are the control: the search does find plaintext where it is.
      assert.equal(inFiles(w.text), !w.encrypted, `${w.text} ${w.encrypted ? 'must not' : 'should'} be in the files`);
    }
  });

  it('re-keys to a key ARN, refuses unknown KeyIds, and StopStreamEncryption turns it off', async () => {
    await rejectsWith(k.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: 'not-a-key' })), 'KMSNotFoundException');
    await rejectsWith(
      k.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: 'arn:aws:kms:us-east-1:000000000000:keyring/nope' })),
      'KMSNotFoundException',
    );
    await rejectsWith(k.send(new StartStreamEncryptionCommand({ StreamName: `${name}-missing`, EncryptionType: 'KMS', KeyId: ALIAS })), 'ResourceNotFoundException');

    await k.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: KEY_ARN }));
    t.clock!.advance(DELAY);
    assert.equal((await summary()).KeyId, KEY_ARN);
    await put(marker('secret-arn'), true);

    // Stopping names the stream's key; another key is refused.
    await rejectsWith(k.send(new StopStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: ALIAS })), 'InvalidArgumentException');
    await k.send(new StopStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: KEY_ARN }));
    assert.equal((await summary()).StreamStatus, 'UPDATING');
    t.clock!.advance(DELAY);
    const s = await summary();
    assert.equal(s.StreamStatus, 'ACTIVE');
    assert.equal(s.EncryptionType, 'NONE');
    assert.equal(s.KeyId, undefined);
    await put(marker('after-stop'), false);
    await rejectsWith(k.send(new StopStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: KEY_ARN })), 'InvalidArgumentException');
    // Records under both keys, and those in clear, all read back.
    await checkAll();
  });

  it('still decrypts everything after a restart on the same data dir', async () => {
    await t.close();
    t = await start();
    k = t.kinesis;
    await checkAll();
    const files = filesUnder(dataDir);
    for (const w of written.filter((x) => x.encrypted)) assert.ok(!files.some((f) => f.includes(Buffer.from(w.text))), w.text);
    // The stream's encryption state survived too, and it can be turned on again.
    assert.equal((await summary()).EncryptionType, 'NONE');
    await k.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: ALIAS }));
    t.clock!.advance(DELAY);
    await put(marker('secret-after-restart'), true);
    await checkAll();
  });
});
