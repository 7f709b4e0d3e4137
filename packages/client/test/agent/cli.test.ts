// eddy-agent as a child process against a real Eddy: SIGTERM re-sends nothing, SIGKILL re-sends
// only what was acknowledged after the last checkpoint write, and nothing is lost either way.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { createStream, credentials, kinesisClient, lines, readStream, startTestEddy, type TestEddy, tally, uniqueName, waitFor, withTempDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/agent/cli.js', import.meta.url));

let eddy: TestEddy;
let kinesis: KinesisClient;

before(async () => {
  eddy = await startTestEddy();
  kinesis = kinesisClient(eddy.endpoint);
});
after(async () => {
  kinesis.destroy();
  await eddy.close();
});

interface Child {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[]): Child {
  const proc = spawn(process.execPath, ['--no-warnings', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, output: () => out, exited };
}

async function writeConfig(dir: string, flows: Record<string, unknown>[]): Promise<string> {
  const path = join(dir, 'agent.json');
  await writeFile(
    path,
    JSON.stringify(
      {
        'cloudwatch.emitMetrics': false,
        'kinesis.endpoint': eddy.endpoint,
        'kinesis.region': 'us-east-1',
        awsAccessKeyId: credentials.accessKeyId,
        awsSecretAccessKey: credentials.secretAccessKey,
        checkpointFile: join(dir, 'checkpoints.json'),
        'log.statusReportingPeriodSeconds': 1,
        flows: flows.map((f) => ({ maxBufferAgeMillis: 1000, minTimeBetweenFilePollsMillis: 20, initialPosition: 'START_OF_FILE', ...f })),
      },
      null,
      2,
    ),
  );
  return path;
}

async function checkpointOffset(dir: string): Promise<number> {
  try {
    const cp = JSON.parse(await readFile(join(dir, 'checkpoints.json'), 'utf8')) as { flows: Record<string, { offset: number }[]> };
    return Object.values(cp.flows)[0]?.[0]?.offset ?? 0;
  } catch {
    return 0;
  }
}

const text = (ls: readonly string[]): string => ls.map((l) => `${l}\n`).join('');

describe('eddy-agent command line', () => {
  test('--help, bad arguments and bad configuration files', async () => {
    const help = run(['--help']);
    assert.deepEqual(await help.exited, { code: 0, signal: null });
    assert.match(help.output(), /^Usage: eddy-agent --config agent\.json/);
    assert.match(help.output(), /SIGTERM/);

    const bad = run(['--nope']);
    assert.equal((await bad.exited).code, 2);
    assert.match(bad.output(), /Unknown option '--nope'/);

    await withTempDir(async (dir) => {
      const path = join(dir, 'agent.json');
      await writeFile(path, '{ "flows": [ { "filePattern": "/tmp/x.log", "kinesisStream": "s", "partitionKeyOption": "HASH" } ] }');
      const c = run(['-c', path]);
      assert.equal((await c.exited).code, 2);
      assert.match(c.output(), /flows\[0\]\.partitionKeyOption: must be one of RANDOM, DETERMINISTIC, got "HASH"/);
      const missing = run(['--config', join(dir, 'absent.json')]);
      assert.equal((await missing.exited).code, 2);
      assert.match(missing.output(), /cannot read the configuration file/);
    });
  });

  test('SIGTERM sends what was read and checkpoints: a restart neither loses nor repeats a line', async () => {
    await withTempDir(async (dir) => {
      const plain = uniqueName('cli-plain');
      const syslog = uniqueName('cli-syslog');
      await createStream(kinesis, plain, 2);
      await createStream(kinesis, syslog, 1);
      const log = join(dir, 'app.log');
      const sys = join(dir, 'messages');
      const cfg = await writeConfig(dir, [
        { filePattern: 'app.log*', kinesisStream: plain },
        { filePattern: 'messages', kinesisStream: syslog, dataProcessingOptions: [{ optionName: 'LOGTOJSON', logFormat: 'SYSLOG' }] },
      ]);
      const want: string[] = [];
      const add = async (ls: string[]): Promise<void> => {
        want.push(...ls);
        await appendFile(log, text(ls));
      };
      await add(lines('before', 0, 1000));
      await writeFile(sys, 'Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages\nJan  5 07:15:01 ip-10-0-0-12 CRON: session opened\n');

      const sendsAll = async () => {
        await waitFor(async () => (await readStream(kinesis, plain)).length >= want.length, 30_000, `${want.length} records`);
      };
      let child = run(['--config', cfg]);
      await sendsAll();
      await add(lines('during', 0, 500));
      await sendsAll();
      // Lines written just before the signal may or may not have been read: either way, once.
      await add(lines('racing', 0, 300));
      child.proc.kill('SIGTERM');
      assert.deepEqual(await child.exited, { code: 0, signal: null }, child.output());
      assert.match(child.output(), /Progress: \d+ records parsed \(\d+ bytes\), and \d+ records sent successfully to destinations/);
      assert.match(child.output(), /Shut down completed/);

      await add(lines('while-down', 0, 200));
      child = run(['--config', cfg]);
      await add(lines('after', 0, 200));
      await sendsAll();
      await new Promise((r) => setTimeout(r, 300));
      child.proc.kill('SIGTERM');
      assert.equal((await child.exited).code, 0, child.output());

      const counts = tally(await readStream(kinesis, plain));
      assert.deepEqual([...counts].filter(([, n]) => n !== 1), [], 'no line twice');
      assert.deepEqual([...counts.keys()].sort(), want.map((l) => `${l}\n`).sort());
      assert.deepEqual((await readStream(kinesis, syslog)).sort(), [
        '{"timestamp":"Jan  5 07:15:01","hostname":"ip-10-0-0-12","program":"CRON","processid":null,"message":"session opened"}\n',
        '{"timestamp":"Mar 12 12:00:08","hostname":"server2","program":"rcd","processid":"308","message":"Loaded 12 packages"}\n',
      ]);
    });
  });

  test('SIGKILL mid-stream: after a restart every line is there; only lines past the checkpoint can repeat', async (t) => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('cli-kill');
      await createStream(kinesis, stream, 4);
      const log = join(dir, 'big.log');
      const all = lines('k', 0, 15_000);
      await writeFile(log, text(all));
      // Each line's end offset, to tell which side of the checkpoint it is on.
      const ends: number[] = [];
      let at = 0;
      for (const l of all) ends.push((at += Buffer.byteLength(l) + 1));
      const total = at;
      const cfg = await writeConfig(dir, [{ filePattern: 'big.log', kinesisStream: stream }]);

      const child = run(['--config', cfg]);
      await waitFor(async () => (await checkpointOffset(dir)) > 0, 30_000, 'a first checkpoint');
      child.proc.kill('SIGKILL');
      assert.equal((await child.exited).signal, 'SIGKILL');
      const checkpointed = await checkpointOffset(dir);
      const sentBeforeKill = (await readStream(kinesis, stream)).length;
      t.diagnostic(`killed with ${checkpointed} of ${total} bytes checkpointed and ${sentBeforeKill} records stored`);
      assert.ok(checkpointed < total, 'killed before the end (make the file bigger if this fails)');

      const again = run(['--config', cfg]);
      await waitFor(async () => (await checkpointOffset(dir)) === total, 60_000, 'the whole file checkpointed');
      again.proc.kill('SIGTERM');
      assert.equal((await again.exited).code, 0, again.output());

      const counts = tally(await readStream(kinesis, stream));
      const missing = all.filter((l) => !counts.has(`${l}\n`));
      assert.deepEqual(missing, [], 'nothing lost');
      const repeatedBeforeCheckpoint = all.filter((l, i) => (ends[i] as number) <= checkpointed && (counts.get(`${l}\n`) ?? 0) !== 1);
      assert.deepEqual(repeatedBeforeCheckpoint, [], 'a checkpointed line is never sent again');
      const repeated = all.filter((l) => (counts.get(`${l}\n`) ?? 0) > 1);
      assert.ok(repeated.every((l) => (counts.get(`${l}\n`) ?? 0) === 2), 'at most one repeat');
      assert.ok(repeated.length <= sentBeforeKill, 'only lines stored before the kill can repeat');
      t.diagnostic(`${repeated.length} lines sent twice (acknowledged after the last checkpoint write)`);
    });
  });
});
