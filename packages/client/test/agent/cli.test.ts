// eddy-agent as a child process against a real Eddy: SIGTERM re-sends nothing, SIGKILL re-sends
// only what was acknowledged after the last checkpoint write (including acknowledgements that
// came out of order, past a record still waiting), and nothing is lost either way.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
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

async function writeConfig(dir: string, flows: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<string> {
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
        ...extra,
        flows: flows.map((f) => ({ maxBufferAgeMillis: 1000, minTimeBetweenFilePollsMillis: 20, initialPosition: 'START_OF_FILE', ...f })),
      },
      null,
      2,
    ),
  );
  return path;
}

/** The first file's checkpoint: the acknowledged offset, and the ranges acknowledged past it. */
async function checkpointOf(dir: string): Promise<{ offset: number; acked: readonly number[] }> {
  try {
    const cp = JSON.parse(await readFile(join(dir, 'checkpoints.json'), 'utf8')) as { flows: Record<string, { offset: number; acked?: number[] }[]> };
    const e = Object.values(cp.flows)[0]?.[0];
    return { offset: e?.offset ?? 0, acked: e?.acked ?? [] };
  } catch {
    return { offset: 0, acked: [] };
  }
}

async function checkpointOffset(dir: string): Promise<number> {
  return (await checkpointOf(dir)).offset;
}

/** Whether the checkpoint says the bytes [start, end) were acknowledged. */
function covers(cp: { offset: number; acked: readonly number[] }, start: number, end: number): boolean {
  if (end <= cp.offset) return true;
  for (let i = 0; i + 1 < cp.acked.length; i += 2) if ((cp.acked[i] as number) <= start && end <= (cp.acked[i + 1] as number)) return true;
  return false;
}

/** Each line's [start, end) in the file `text(ls)` makes. */
function spans(ls: readonly string[]): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  for (const l of ls) out.push([at, (at += Buffer.byteLength(l) + 1)]);
  return out;
}

interface HoldingProxy {
  readonly endpoint: string;
  /** Requests held so far (never forwarded, never answered). */
  held(): number;
  /** Forward everything from now on. */
  release(): void;
  close(): Promise<void>;
}

/**
 * An HTTP/2 (h2c) pass-through to Eddy on loopback, as the SDK's default handler speaks it, that
 * holds every request `hold` picks: the records in it stay unacknowledged while the rest of the
 * agent's requests go through, so acknowledgements come back out of order, around a gap.
 */
async function startHoldingProxy(target: string, hold: (body: Buffer) => boolean): Promise<HoldingProxy> {
  const upstream = http2.connect(target);
  upstream.on('error', () => undefined);
  const sessions = new Set<http2.ServerHttp2Session>();
  let holding = true;
  let held = 0;
  const server = http2.createServer();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      if (holding && hold(body)) {
        held++;
        return;
      }
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') || k === ':method' || k === ':path') out[k] = v;
      const req = upstream.request(out);
      req.on('error', () => stream.destroy());
      req.on('response', (h) => {
        const back: http2.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || k === ':status') back[k] = v;
        if (!stream.destroyed) stream.respond(back);
      });
      req.on('data', (c: Buffer) => {
        if (!stream.destroyed) stream.write(c);
      });
      req.on('end', () => {
        if (!stream.destroyed) stream.end();
      });
      req.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    release: () => {
      holding = false;
    },
    async close() {
      for (const s of sessions) s.destroy();
      upstream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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
      // Each line's place in the file, to tell whether the checkpoint covers it.
      const at = spans(all);
      const total = at[at.length - 1]?.[1] ?? 0;
      const cfg = await writeConfig(dir, [{ filePattern: 'big.log', kinesisStream: stream }]);

      const child = run(['--config', cfg]);
      await waitFor(async () => (await checkpointOffset(dir)) > 0, 30_000, 'a first checkpoint');
      child.proc.kill('SIGKILL');
      assert.equal((await child.exited).signal, 'SIGKILL');
      const cp = await checkpointOf(dir);
      const storedBeforeKill = tally(await readStream(kinesis, stream));
      const sentBeforeKill = [...storedBeforeKill.values()].reduce((a, b) => a + b, 0);
      const covered = (i: number): boolean => covers(cp, ...(at[i] as [number, number]));
      t.diagnostic(`killed with ${cp.offset} of ${total} bytes checkpointed, ${cp.acked.length / 2} ranges past it, and ${sentBeforeKill} records stored`);
      assert.ok(cp.offset < total, 'killed before the end (make the file bigger if this fails)');

      const again = run(['--config', cfg]);
      await waitFor(async () => (await checkpointOffset(dir)) === total, 60_000, 'the whole file checkpointed');
      again.proc.kill('SIGTERM');
      assert.equal((await again.exited).code, 0, again.output());

      const counts = tally(await readStream(kinesis, stream));
      const missing = all.filter((l) => !counts.has(`${l}\n`));
      assert.deepEqual(missing, [], 'nothing lost');
      const repeatedCheckpointed = all.filter((l, i) => covered(i) && (counts.get(`${l}\n`) ?? 0) !== 1);
      assert.deepEqual(repeatedCheckpointed.slice(0, 5), [], 'a checkpointed line (below the offset or in an acknowledged range) is never sent again');
      const repeated = all.filter((l) => (counts.get(`${l}\n`) ?? 0) > 1);
      assert.ok(repeated.every((l) => (counts.get(`${l}\n`) ?? 0) === 2), 'at most one repeat');
      // What may repeat: lines stored before the kill whose acknowledgement the last checkpoint write did not hold.
      const inFlight = all.filter((l, i) => storedBeforeKill.has(`${l}\n`) && !covered(i));
      assert.deepEqual(repeated.filter((l) => !storedBeforeKill.has(`${l}\n`)).slice(0, 5), [], 'only lines stored before the kill can repeat');
      t.diagnostic(`${repeated.length} lines sent twice, of ${inFlight.length} stored but not checkpointed at the kill`);
    });
  });
  test('SIGKILL with acknowledgements past a gap: a restart sends none of them again', async (t) => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('cli-gap');
      await createStream(kinesis, stream, 4);
      const all = lines('g', 0, 4_000);
      await writeFile(join(dir, 'gap.log'), text(all));
      const at = spans(all);
      const total = at[at.length - 1]?.[1] ?? 0;
      // Every request carrying the file's first line is held: its records stay unacknowledged (the
      // offset cannot move past line 0) while the other requests are stored and acknowledged.
      const first = Buffer.from(`${all[0]}\n`).toString('base64');
      const proxy = await startHoldingProxy(eddy.endpoint, (body) => body.includes(first));
      try {
        const cfg = await writeConfig(dir, [{ filePattern: 'gap.log', kinesisStream: stream }], { 'kinesis.endpoint': proxy.endpoint });
        const child = run(['--config', cfg]);
        await waitFor(() => proxy.held() > 0, 30_000, 'a held request');
        // Wait until nothing moves: what is stored stays the same and the checkpoint holds all of it
        // (bounded; the assertions below say what went wrong if it never happens).
        let stored = new Map<string, number>();
        let quiet = 0;
        for (let round = 0; round < 100 && quiet < 3; round++) {
          await new Promise((r) => setTimeout(r, 200));
          const now = tally(await readStream(kinesis, stream));
          const cp = await checkpointOf(dir);
          const allCovered = all.every((l, i) => !now.has(`${l}\n`) || covers(cp, ...(at[i] as [number, number])));
          quiet = now.size > 0 && now.size === stored.size && allCovered ? quiet + 1 : 0;
          stored = now;
        }
        child.proc.kill('SIGKILL');
        assert.equal((await child.exited).signal, 'SIGKILL');
        const cp = await checkpointOf(dir);
        const storedBeforeKill = tally(await readStream(kinesis, stream));
        const covered = (i: number): boolean => covers(cp, ...(at[i] as [number, number]));
        t.diagnostic(`killed with ${storedBeforeKill.size} of ${all.length} lines stored, ${proxy.held()} request(s) held, checkpoint offset ${cp.offset}, ${cp.acked.length / 2} ranges past it`);
        assert.equal(storedBeforeKill.has(`${all[0]}\n`), false, 'the first line was held');
        assert.ok(storedBeforeKill.size > all.length / 2, 'most lines were acknowledged past the gap');

        proxy.release();
        const again = run(['--config', cfg]);
        await waitFor(async () => (await checkpointOffset(dir)) === total, 60_000, 'the whole file checkpointed');
        again.proc.kill('SIGTERM');
        assert.equal((await again.exited).code, 0, again.output());

        const counts = tally(await readStream(kinesis, stream));
        assert.deepEqual(all.filter((l) => !counts.has(`${l}\n`)).slice(0, 5), [], 'nothing lost');
        const repeated = all.filter((l) => (counts.get(`${l}\n`) ?? 0) > 1);
        // Allowed to repeat: lines stored before the kill whose acknowledgement no checkpoint write held.
        const inFlight = new Set(all.filter((l, i) => storedBeforeKill.has(`${l}\n`) && !covered(i)));
        assert.deepEqual(repeated.filter((l) => !inFlight.has(l)).slice(0, 5), [], 'a line whose acknowledgement was checkpointed is not sent again');
        // The kill came once everything acknowledged was checkpointed: nothing may repeat.
        assert.deepEqual({ repeated: repeated.length, inFlight: inFlight.size }, { repeated: 0, inFlight: 0 });
      } finally {
        await proxy.close();
      }
    });
  });
});
