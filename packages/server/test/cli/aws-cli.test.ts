/**
 * The `eddy` binary as users run it: a real child process, driven by the AWS CLI
 * (`aws kinesis ... --endpoint-url`), plus its flags, environment variables and usage errors.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { uniqueName } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The environment of a child: this one's, without any EDDY_* setting that would leak in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EDDY_')) env[k] = v;
  return { ...env, ...extra };
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`, so a hang fails instead of stalling). */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface EddyChild {
  readonly proc: ChildProcess;
  readonly endpoint: string;
  /** The line it printed when ready. */
  readonly banner: string;
  /** Milliseconds from spawn to that line. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

/** Spawns `eddy serve ...` and resolves once it says where it listens. */
function spawnEddy(args: readonly string[], env: Record<string, string> = {}): Promise<EddyChild> {
  const started = performance.now();
  const proc = spawn(process.execPath, [MAIN, 'serve', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`eddy serve did not start within 15 s: ${stderr}`));
    }, 15_000);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`eddy serve exited (code ${code}, signal ${signal}) before listening: ${stderr}`));
    });
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      const m = /^eddy listening on (\S+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      lines.close();
      proc.stdout!.resume();
      resolve({
        proc,
        endpoint: m[1]!,
        banner: line,
        readyMs: performance.now() - started,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

// ------------------------------------------------------------------ the AWS CLI

/** The Debian package's `aws` (what scripts/ensure-test-deps.sh installs), else whatever is on PATH. */
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
const awsVersion = (() => {
  const r = spawnSync(AWS, ['--version'], { encoding: 'utf8', env: cleanEnv({ AWS_PAGER: '' }) });
  return r.error ? undefined : `${r.stdout}${r.stderr}`.trim();
})();
/** CLI v2 takes blobs as base64 and knows --no-cli-pager; v1 takes blobs as raw text. */
const v2 = awsVersion?.startsWith('aws-cli/2') ?? false;
/** Exit code of a service error: 254 in v2, 255 in v1. */
const SERVICE_ERROR_EXIT = v2 ? 254 : 255;

describe('the AWS CLI against a real `eddy serve`', { skip: awsVersion ? false : 'the aws CLI is not installed (scripts/ensure-test-deps.sh installs it)' }, () => {
  let eddy: EddyChild;
  let home: string;
  before(async () => {
    eddy = await spawnEddy(['--port', '0', '--memory', '--state-delay-ms', '0', '--no-throttle']);
    home = mkdtempSync(join(tmpdir(), 'eddy-awscli-'));
  });
  after(async () => {
    await eddy?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Runs `aws kinesis <args>` against the child, credentials and region only from this env. */
  async function aws(...args: string[]): Promise<Ran> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_MAX_ATTEMPTS: '1',
      AWS_PAGER: '',
    };
    const common = ['--endpoint-url', eddy.endpoint, '--output', 'json', '--cli-connect-timeout', '5', '--cli-read-timeout', '20'];
    return run(AWS, ['kinesis', ...args, ...common, ...(v2 ? ['--no-cli-pager'] : [])], env);
  }
  async function awsJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const r = await aws(...args);
    assert.equal(r.code, 0, `aws kinesis ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return (r.stdout.trim() === '' ? {} : JSON.parse(r.stdout)) as T;
  }
  /** A blob argument: base64 for CLI v2 (its default cli_binary_format), the raw text for v1. */
  const blob = (text: string): string => (v2 ? Buffer.from(text).toString('base64') : text);

  it('reports the CLI and the readiness of the child', (t) => {
    t.diagnostic(`${awsVersion}; eddy serve printed "${eddy.banner}" ${eddy.readyMs.toFixed(0)} ms after spawn`);
    assert.match(eddy.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(eddy.banner, /\(storage: memory\)$/);
  });

  it('creates, writes, reads back, reshards, tags, describes and deletes a stream, then answers ResourceNotFoundException', async () => {
    // Each CLI call costs about a second of Python start-up, so independent calls run side by side.
    const name = uniqueName('cli');
    assert.deepEqual(await awsJson('create-stream', '--stream-name', name, '--shard-count', '2'), {});

    // Explicit hash key 0 sends the records to shardId-000000000000, while shard 1 is split in its
    // middle: [2^127, 2^128 - 1] becomes [2^127, 3 * 2^126 - 1] and [3 * 2^126, 2^128 - 1].
    const middle = (3n << 126n).toString();
    const texts = ['hello from the aws cli', 'second \u00fcber record', 'third'];
    const [single, batch, split, tagged] = await Promise.all([
      awsJson<{ ShardId: string; SequenceNumber: string; EncryptionType?: string }>(
        'put-record', '--stream-name', name, '--partition-key', 'pk-0', '--explicit-hash-key', '0', '--data', blob(texts[0]!),
      ),
      awsJson<{ FailedRecordCount: number; Records: { ShardId: string; SequenceNumber: string }[] }>(
        'put-records', '--stream-name', name, '--records',
        JSON.stringify(texts.slice(1).map((t, i) => ({ Data: blob(t), PartitionKey: `pk-${i + 1}`, ExplicitHashKey: '0' }))),
      ),
      awsJson('split-shard', '--stream-name', name, '--shard-to-split', 'shardId-000000000001', '--new-starting-hash-key', middle),
      awsJson('add-tags-to-stream', '--stream-name', name, '--tags', 'team=eddy,env=test'),
    ]);
    assert.equal(single.ShardId, 'shardId-000000000000');
    assert.match(single.SequenceNumber, /^\d{56}$/);
    assert.equal(single.EncryptionType, 'NONE');
    assert.equal(batch.FailedRecordCount, 0);
    assert.deepEqual(batch.Records.map((r) => r.ShardId), ['shardId-000000000000', 'shardId-000000000000']);
    assert.deepEqual(split, {});
    assert.deepEqual(tagged, {});

    const [iterator, summary, shards, tags] = await Promise.all([
      awsJson<{ ShardIterator: string }>(
        'get-shard-iterator', '--stream-name', name, '--shard-id', 'shardId-000000000000', '--shard-iterator-type', 'TRIM_HORIZON',
      ),
      awsJson<{ StreamDescriptionSummary: Record<string, unknown> }>('describe-stream-summary', '--stream-name', name),
      awsJson<{ Shards: { ShardId: string; ParentShardId?: string; HashKeyRange: { StartingHashKey: string; EndingHashKey: string }; SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string } }[] }>(
        'list-shards', '--stream-name', name,
      ),
      awsJson<{ Tags: { Key: string; Value: string }[]; HasMoreTags: boolean }>('list-tags-for-stream', '--stream-name', name),
    ]);

    const s = summary.StreamDescriptionSummary;
    assert.equal(s.StreamName, name);
    assert.equal(s.StreamARN, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);
    assert.equal(s.StreamStatus, 'ACTIVE');
    assert.equal(s.OpenShardCount, 3);
    assert.equal(s.RetentionPeriodHours, 24);
    assert.equal(s.EncryptionType, 'NONE');
    assert.deepEqual(s.StreamModeDetails, { StreamMode: 'PROVISIONED' });

    assert.deepEqual(shards.Shards.map((x) => x.ShardId), ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
    const [open, parent, left, right] = shards.Shards;
    assert.equal(open!.SequenceNumberRange.EndingSequenceNumber, undefined);
    assert.match(parent!.SequenceNumberRange.EndingSequenceNumber ?? '', /^\d+$/, 'the split parent is closed');
    assert.equal(left!.ParentShardId, 'shardId-000000000001');
    assert.equal(right!.ParentShardId, 'shardId-000000000001');
    assert.deepEqual(left!.HashKeyRange, { StartingHashKey: parent!.HashKeyRange.StartingHashKey, EndingHashKey: (BigInt(middle) - 1n).toString() });
    assert.deepEqual(right!.HashKeyRange, { StartingHashKey: middle, EndingHashKey: ((1n << 128n) - 1n).toString() });

    assert.deepEqual(tags, { Tags: [{ Key: 'env', Value: 'test' }, { Key: 'team', Value: 'eddy' }], HasMoreTags: false });

    const got = await awsJson<{
      Records: { SequenceNumber: string; Data: string; PartitionKey: string; ApproximateArrivalTimestamp: string | number }[];
      NextShardIterator: string;
      MillisBehindLatest: number;
    }>('get-records', '--shard-iterator', iterator.ShardIterator);
    // The CLI prints blobs base64 (both versions); the bytes must be the ones sent.
    const bySeq = new Map(got.Records.map((r) => [r.SequenceNumber, r]));
    assert.equal(got.Records.length, 3);
    const expected = [
      { seq: single.SequenceNumber, text: texts[0]!, pk: 'pk-0' },
      { seq: batch.Records[0]!.SequenceNumber, text: texts[1]!, pk: 'pk-1' },
      { seq: batch.Records[1]!.SequenceNumber, text: texts[2]!, pk: 'pk-2' },
    ];
    for (const e of expected) {
      const r = bySeq.get(e.seq);
      assert.ok(r, `record ${e.seq} came back`);
      assert.equal(Buffer.from(r.Data, 'base64').toString('utf8'), e.text);
      assert.equal(r.PartitionKey, e.pk);
      assert.ok(r.ApproximateArrivalTimestamp !== undefined);
    }
    const seqs = got.Records.map((r) => BigInt(r.SequenceNumber));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, 'records come back in sequence order');
    assert.ok(got.NextShardIterator.length > 0);
    assert.equal(got.MillisBehindLatest, 0);

    assert.deepEqual(await awsJson('delete-stream', '--stream-name', name), {});
    const gone = await aws('describe-stream-summary', '--stream-name', name);
    assert.equal(gone.code, SERVICE_ERROR_EXIT, gone.stderr);
    assert.match(gone.stderr, /An error occurred \(ResourceNotFoundException\) when calling the DescribeStreamSummary operation/);
    assert.ok(gone.stderr.includes(`Stream ${name} under account 000000000000 not found.`), gone.stderr);
    assert.equal(gone.stdout, '');
  });
});

// ------------------------------------------------------------------ the eddy binary itself

describe('the eddy binary', { concurrency: true }, () => {
  it('explains every option and its environment variable with --help', async () => {
    const r = await run(process.execPath, [MAIN, '--help'], cleanEnv());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: eddy serve \[options\]/);
    for (const flag of ['port', 'host', 'data-dir', 'memory', 'region', 'account-id', 'state-delay-ms', 'no-throttle', 'tls', 'tls-cert', 'tls-key', 'auth', 'credentials', 'shard-limit', 'on-demand-stream-limit']) {
      assert.match(r.stdout, new RegExp(`--${flag}\\b`), `--help names --${flag}`);
    }
    for (const env of ['EDDY_PORT', 'EDDY_HOST', 'EDDY_DATA_DIR', 'EDDY_MEMORY', 'EDDY_STATE_DELAY_MS', 'EDDY_NO_THROTTLE', 'EDDY_TLS', 'EDDY_AUTH', 'EDDY_CREDENTIALS']) {
      assert.ok(r.stdout.includes(env), `--help names ${env}`);
    }
    const serveHelp = await run(process.execPath, [MAIN, 'serve', '--help'], cleanEnv());
    assert.equal(serveHelp.code, 0);
    assert.equal(serveHelp.stdout, r.stdout);
  });

  it('exits 2 with the usage on bad flags and bad values, starting nothing', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['serve', '--bogus'], {}, /Unknown option '--bogus'/],
      [['serve', '--port', 'abc'], {}, /--port must be a non-negative integer, got 'abc'/],
      [['serve', '--auth', 'basic'], {}, /--auth must be 'none' or 'sigv4'/],
      [['serve', '--tls-cert', '/nonexistent.pem'], {}, /--tls-cert and --tls-key go together/],
      [['launch'], {}, /unknown command 'launch'/],
      // Environment variables are read (and checked) like flags.
      [['serve'], { EDDY_PORT: 'not-a-port' }, /--port must be a non-negative integer, got 'not-a-port'/],
      [['serve'], { EDDY_AUTH: 'sigv4' }, /--auth sigv4 needs --credentials FILE/],
    ];
    await Promise.all(
      cases.map(async ([args, env, message]) => {
        const r = await run(process.execPath, [MAIN, ...args], cleanEnv(env), 15_000);
        assert.equal(r.code, 2, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.match(r.stderr, /Usage: eddy serve \[options\]/);
        assert.doesNotMatch(r.stdout, /listening/);
      }),
    );
  });

  it('honours EDDY_* variables, flags win over them, and SIGTERM or SIGINT stop it cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eddy-env-'));
    // EDDY_PORT is garbage, so only the flag can have made it start; the rest come from the env.
    const slow = await spawnEddy(['--port', '0'], {
      EDDY_PORT: 'not-a-port',
      EDDY_DATA_DIR: dir,
      EDDY_STATE_DELAY_MS: '600000',
      EDDY_ACCOUNT_ID: '123456789012',
      EDDY_REGION: 'eu-west-3',
    });
    const fast = await spawnEddy(['--state-delay-ms', '0'], { EDDY_PORT: '0', EDDY_MEMORY: 'true', EDDY_STATE_DELAY_MS: '600000' });
    try {
      assert.ok(slow.banner.endsWith(`(storage: ${dir})`), slow.banner);
      assert.ok(fast.banner.endsWith('(storage: memory)'), fast.banner);
      // EDDY_PORT=0 took effect: without it the server would be on the default 4567.
      assert.notEqual(new URL(fast.endpoint).port, '4567');
      const call = async (endpoint: string, op: string, body: unknown) => {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `Kinesis_20131202.${op}` },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, any> };
      };
      const name = uniqueName('env');
      for (const e of [slow, fast]) assert.equal((await call(e.endpoint, 'CreateStream', { StreamName: name, ShardCount: 1 })).status, 200);
      // EDDY_STATE_DELAY_MS=600000: still CREATING; --state-delay-ms 0 beat the same variable.
      const a = (await call(slow.endpoint, 'DescribeStreamSummary', { StreamName: name })).json.StreamDescriptionSummary;
      const b = (await call(fast.endpoint, 'DescribeStreamSummary', { StreamName: name })).json.StreamDescriptionSummary;
      assert.equal(a.StreamStatus, 'CREATING');
      assert.equal(b.StreamStatus, 'ACTIVE');
      // EDDY_ACCOUNT_ID and EDDY_REGION shape the ARNs of unsigned requests.
      assert.equal(a.StreamARN, `arn:aws:kinesis:eu-west-3:123456789012:stream/${name}`);
      assert.equal(b.StreamARN, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);

      // A container's SIGTERM and a terminal's Ctrl-C (SIGINT) both close the server and exit 0.
      const codes = [slow, fast].map((e) => new Promise<number | null>((resolve) => e.proc.once('exit', (code) => resolve(code))));
      slow.proc.kill('SIGTERM');
      fast.proc.kill('SIGINT');
      assert.deepEqual(await Promise.all(codes), [0, 0]);
    } finally {
      await Promise.all([slow.stop(), fast.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
