// The agent in this process against a real Eddy: files written, read back with GetRecords.
import assert from 'node:assert/strict';
import { appendFile, copyFile, open, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { type Agent, startAgent } from '../../src/agent/agent.js';
import { parseAgentConfig } from '../../src/agent/config.js';
import { createStream, credentials, kinesisClient, lines, readStream, startTestEddy, type TestEddy, tally, uniqueName, waitFor, withTempDir } from './helpers.js';

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

/** A configuration for flows in `dir`, tuned for tests: fast polls, the shortest buffer age the agent allows. */
function config(dir: string, flows: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  return parseAgentConfig(
    {
      'kinesis.endpoint': eddy.endpoint,
      'kinesis.region': 'us-east-1',
      awsAccessKeyId: credentials.accessKeyId,
      awsSecretAccessKey: credentials.secretAccessKey,
      checkpointFile: join(dir, 'checkpoints.json'),
      checkpointIntervalMillis: 50,
      'log.level': 'WARN',
      ...extra,
      flows: flows.map((f) => ({ maxBufferAgeMillis: 1000, minTimeBetweenFilePollsMillis: 20, multiLineFlushMillis: 300, ...f })),
    },
    { baseDir: dir },
  );
}

async function start(dir: string, flows: Record<string, unknown>[], extra: Record<string, unknown> = {}, logs: string[] = []): Promise<Agent> {
  return startAgent({ config: config(dir, flows, extra), log: (l, m) => logs.push(`${l} ${m}`) });
}

const text = (ls: readonly string[]): string => ls.map((l) => `${l}\n`).join('');

async function expectExactlyOnce(stream: string, want: readonly string[], timeoutMs = 20_000): Promise<void> {
  let got: string[] = [];
  try {
    await waitFor(
      async () => {
        got = await readStream(kinesis, stream);
        return got.length >= want.length;
      },
      timeoutMs,
      `${want.length} records in ${stream}`,
    );
  } catch (e) {
    // Say what is missing, so that a failure seen once can be read.
    const have = new Set(got);
    const missing = want.filter((w) => !have.has(w));
    throw new Error(`${(e as Error).message}: ${got.length} there, ${missing.length} missing (first: ${JSON.stringify(missing.slice(0, 5))})`, { cause: e });
  }
  // Give a straggler (a duplicate) a moment to show itself before comparing.
  await new Promise((r) => setTimeout(r, 200));
  got = await readStream(kinesis, stream);
  const counts = tally(got);
  const missing = want.filter((w) => !counts.has(w));
  const dup = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual({ missing: missing.slice(0, 5), duplicates: dup.slice(0, 5) }, { missing: [], duplicates: [] });
  assert.deepEqual([...counts.keys()].sort(), [...new Set(want)].sort());
}

describe('agent end to end (in process)', () => {
  test('every line arrives exactly once, converted as each flow says', async () => {
    await withTempDir(async (dir) => {
      const streams = { plain: uniqueName('plain'), csv: uniqueName('csv'), apache: uniqueName('apache'), multi: uniqueName('multi'), det: uniqueName('det') };
      for (const s of Object.values(streams)) await createStream(kinesis, s, 2);
      // Content there before the agent starts (read from START_OF_FILE), and content appended after.
      const plainBefore = lines('plain', 0, 300);
      await writeFile(join(dir, 'plain.log'), text(plainBefore));
      await writeFile(join(dir, 'data.csv'), 'id,name,qty\n1,apple,3\n2,pear,\n');
      const access = [
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
        'this line is not in common log format',
        '192.168.1.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 304 -',
      ];
      await writeFile(join(dir, 'access.log'), text(access));
      await writeFile(join(dir, 'app.log'), '');
      const agent = await start(dir, [
        { filePattern: 'plain.log*', kinesisStream: streams.plain, initialPosition: 'START_OF_FILE' },
        {
          filePattern: 'data.csv',
          kinesisStream: streams.csv,
          initialPosition: 'START_OF_FILE',
          skipHeaderLines: 1,
          dataProcessingOptions: [{ optionName: 'CSVTOJSON', customFieldNames: ['id', 'name', 'qty'] }],
        },
        { filePattern: 'access.log', kinesisStream: streams.apache, initialPosition: 'START_OF_FILE', dataProcessingOptions: [{ optionName: 'LOGTOJSON', logFormat: 'COMMONAPACHELOG' }] },
        {
          filePattern: 'app.log',
          kinesisStream: streams.multi,
          initialPosition: 'START_OF_FILE',
          multiLineStartPattern: '\\d{4}-\\d{2}-\\d{2} ',
          dataProcessingOptions: [{ optionName: 'SINGLELINE' }],
        },
        { filePattern: 'plain.log', kinesisStream: streams.det, partitionKeyOption: 'DETERMINISTIC', initialPosition: 'END_OF_FILE' },
      ]);
      try {
        const plainAfter = lines('plain', 300, 1300);
        for (let i = 0; i < plainAfter.length; i += 100) await appendFile(join(dir, 'plain.log'), text(plainAfter.slice(i, i + 100)));
        await appendFile(join(dir, 'data.csv'), '3,"fig",10\n');
        // A stack trace written in two pieces, the second mid-line.
        await appendFile(join(dir, 'app.log'), '2024-03-01 12:00:00 INFO started\n2024-03-01 12:00:01 ERROR failed\njava.lang.RuntimeException: boom\n');
        await appendFile(join(dir, 'app.log'), '    at com.example.Main.run(Main.java:42)\n    at com.exa');
        await appendFile(join(dir, 'app.log'), 'mple.Main.main(Main.java:7)\n2024-03-01 12:00:02 INFO recovered\n');

        await expectExactlyOnce(streams.plain, [...plainBefore, ...plainAfter].map((l) => `${l}\n`));
        // END_OF_FILE: only what came after the start.
        await expectExactlyOnce(streams.det, plainAfter.map((l) => `${l}\n`));
        await expectExactlyOnce(streams.csv, [
          '{"id":"1","name":"apple","qty":"3"}\n',
          '{"id":"2","name":"pear","qty":null}\n',
          '{"id":"3","name":"\\"fig\\"","qty":"10"}\n',
        ]);
        await expectExactlyOnce(streams.apache, [
          '{"host":"127.0.0.1","ident":null,"authuser":"frank","datetime":"10/Oct/2000:13:55:36 -0700","request":"GET /apache_pb.gif HTTP/1.0","response":"200","bytes":"2326"}\n',
          '{"host":"192.168.1.20","ident":null,"authuser":null,"datetime":"28/Jul/2006:10:27:10 -0300","request":"GET /cgi-bin/try/ HTTP/1.0","response":"304","bytes":null}\n',
        ]);
        // The last multi-line record is sent once the file has been quiet for multiLineFlushMillis.
        await expectExactlyOnce(streams.multi, [
          '2024-03-01 12:00:00 INFO started\n',
          '2024-03-01 12:00:01 ERROR failedjava.lang.RuntimeException: boomat com.example.Main.run(Main.java:42)at com.example.Main.main(Main.java:7)\n',
          '2024-03-01 12:00:02 INFO recovered\n',
        ]);
        const p = agent.progress();
        assert.equal(p.total.recordsSkipped, 1); // the access.log line that is not common log format
        assert.equal(p.total.recordsInFlight, 0);
        assert.equal(p.flows[`kinesis:${streams.det}:${dir}/plain.log`]?.recordsSent, 1000);
      } finally {
        await agent.close();
      }
    });
  });

  test('a restart resumes where the last one stopped: nothing lost, nothing sent twice', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('restart');
      await createStream(kinesis, stream, 2);
      const flows = [{ filePattern: 'svc.log', kinesisStream: stream, initialPosition: 'END_OF_FILE' }];
      await writeFile(join(dir, 'svc.log'), text(lines('old', 0, 50)));
      const first = lines('first', 0, 500);
      let agent = await start(dir, flows);
      await appendFile(join(dir, 'svc.log'), text(first));
      await waitFor(() => agent.progress().total.recordsSent === 500, 20_000, '500 sent');
      await agent.close();
      // Written while no agent runs, and after.
      const second = lines('second', 0, 400);
      await appendFile(join(dir, 'svc.log'), text(second.slice(0, 200)));
      agent = await start(dir, flows);
      try {
        await appendFile(join(dir, 'svc.log'), text(second.slice(200)));
        await expectExactlyOnce(stream, [...first, ...second].map((l) => `${l}\n`));
      } finally {
        await agent.close();
      }
      const cp = JSON.parse(await readFile(join(dir, 'checkpoints.json'), 'utf8')) as { flows: Record<string, { offset: number; path: string }[]> };
      const entry = Object.values(cp.flows)[0]?.[0];
      assert.equal(entry?.offset, (await readFile(join(dir, 'svc.log'))).length);
    });
  });

  test('rotation by rename and create, with writes to the renamed file, loses nothing', async () => {
    await withTempDir(async (dir) => {
      const wide = uniqueName('rot-wide');
      const narrow = uniqueName('rot-narrow');
      await createStream(kinesis, wide, 2);
      await createStream(kinesis, narrow, 2);
      const path = join(dir, 'app.log');
      await writeFile(path, '');
      // app.log* follows the rotated files by pattern; app.log alone must follow them by inode.
      const agent = await start(dir, [
        { filePattern: 'app.log*', kinesisStream: wide, initialPosition: 'START_OF_FILE' },
        { filePattern: 'app.log', kinesisStream: narrow, initialPosition: 'START_OF_FILE' },
      ]);
      const all: string[] = [];
      try {
        let fh = await open(path, 'a');
        for (let gen = 0; gen < 5; gen++) {
          for (let batch = 0; batch < 4; batch++) {
            const ls = lines(`gen${gen}.${batch}`, 0, 50);
            all.push(...ls);
            await fh.write(text(ls));
            await new Promise((r) => setTimeout(r, 5));
          }
          // A file renamed away before the agent first looks at it cannot be followed by name or by
          // inode (nor can AWS's agent follow it): logrotate rotates files that have lived a while.
          // So both flows read this generation before it is rotated, however slow the machine.
          const written = all.length;
          await waitFor(() => agent.progress().total.recordsParsed >= 2 * written, 20_000, `generation ${gen} read by both flows`);
          // logrotate's "create": shift the old files, rename the live one, create a new one...
          for (let k = gen; k >= 1; k--) await rename(`${path}.${k}`, `${path}.${k + 1}`);
          await rename(path, `${path}.1`);
          await writeFile(path, '');
          // ...while the application still writes to the renamed file until it reopens.
          const late = lines(`late${gen}`, 0, 20);
          all.push(...late);
          await fh.write(text(late));
          await fh.close();
          fh = await open(path, 'a');
        }
        const last = lines('final', 0, 100);
        all.push(...last);
        await fh.write(text(last));
        await fh.close();
        await expectExactlyOnce(wide, all.map((l) => `${l}\n`));
        await expectExactlyOnce(narrow, all.map((l) => `${l}\n`));
      } finally {
        await agent.close();
      }
    });
  });

  test('a file renamed out of the pattern is still read while it grows (late writes after the agent saw it go)', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('rot-late');
      await createStream(kinesis, stream, 1);
      const path = join(dir, 'app.log');
      await writeFile(path, '');
      const agent = await start(dir, [{ filePattern: 'app.log', kinesisStream: stream, initialPosition: 'START_OF_FILE' }]);
      const all: string[] = [];
      try {
        const fh = await open(path, 'a');
        const before = lines('before', 0, 50);
        all.push(...before);
        await fh.write(text(before));
        await waitFor(() => agent.progress().total.recordsSent === 50, 20_000, '50 sent');
        await rename(path, `${path}.1`);
        await writeFile(path, '');
        // Several polls (every 20 ms here) see app.log.1 gone from the pattern before the
        // application, still holding it open, writes again.
        await new Promise((r) => setTimeout(r, 300));
        const late = lines('late', 0, 30);
        all.push(...late);
        await fh.write(text(late));
        await fh.close();
        const after = lines('after', 0, 20);
        all.push(...after);
        await appendFile(path, text(after));
        await expectExactlyOnce(stream, all.map((l) => `${l}\n`));
      } finally {
        await agent.close();
      }
    });
  });

  test('rotation by copytruncate loses nothing and repeats nothing', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('copytrunc');
      await createStream(kinesis, stream, 2);
      const path = join(dir, 'web.log');
      await writeFile(path, '');
      const logs: string[] = [];
      const agent = await start(dir, [{ filePattern: 'web.log*', kinesisStream: stream, initialPosition: 'START_OF_FILE' }], { 'log.level': 'INFO' }, logs);
      const all: string[] = [];
      try {
        for (let gen = 0; gen < 5; gen++) {
          for (let batch = 0; batch < 3; batch++) {
            const ls = lines(`ct${gen}.${batch}`, 0, 60);
            all.push(...ls);
            await appendFile(path, text(ls));
            await new Promise((r) => setTimeout(r, 30));
          }
          // Lines the agent most likely has not read yet when the copy is taken.
          const unread = lines(`unread${gen}`, 0, 40);
          all.push(...unread);
          await appendFile(path, text(unread));
          // logrotate's copytruncate: copy, then truncate the live file in place.
          for (let k = gen; k >= 1; k--) await rename(`${path}.${k}`, `${path}.${k + 1}`);
          await copyFile(path, `${path}.1`);
          await truncate(path, 0);
        }
        const last = lines('after', 0, 100);
        all.push(...last);
        await appendFile(path, text(last));
        await expectExactlyOnce(stream, all.map((l) => `${l}\n`));
        // Each rotation was seen as one: the live file truncated, its copy continuing from the offset read.
        assert.equal(logs.filter((l) => l.includes('was truncated at')).length, 5, logs.join('\n'));
        assert.equal(logs.filter((l) => l.includes('is the copy of truncated')).length, 5, logs.join('\n'));
      } finally {
        await agent.close();
      }
    });
  });

  test('an unterminated last line is held back until its file is rotated away', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('partial');
      await createStream(kinesis, stream, 1);
      const path = join(dir, 'job.log');
      await writeFile(path, '');
      const agent = await start(dir, [{ filePattern: 'job.log*', kinesisStream: stream, initialPosition: 'START_OF_FILE' }]);
      try {
        await appendFile(path, 'complete\nincomplete');
        await waitFor(() => agent.progress().total.recordsSent === 1, 10_000, 'the complete line');
        // Quiet for longer than multiLineFlushMillis, but the writer may still finish the line.
        await new Promise((r) => setTimeout(r, 600));
        assert.equal(agent.progress().total.recordsSent, 1);
        await rename(path, `${path}.1`);
        await writeFile(path, 'next\n');
        await expectExactlyOnce(stream, ['complete\n', 'incomplete', 'next\n']);
      } finally {
        await agent.close();
      }
    });
  });

  test('a file that leaves the pattern and comes back continues where it was', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('comeback');
      await createStream(kinesis, stream, 1);
      const path = join(dir, 'svc.log');
      await writeFile(path, '');
      const logs: string[] = [];
      const agent = await start(dir, [{ filePattern: 'svc.log', kinesisStream: stream }], { 'log.level': 'DEBUG' }, logs);
      try {
        await appendFile(path, text(lines('one', 0, 20)));
        await waitFor(() => agent.progress().total.recordsSent === 20, 10_000, '20 sent');
        await rename(path, join(dir, 'svc.log.moved'));
        await waitFor(() => logs.some((l) => l.includes('done with')), 10_000, 'the file to be let go');
        await rename(join(dir, 'svc.log.moved'), path);
        await appendFile(path, text(lines('two', 0, 20)));
        await expectExactlyOnce(stream, [...lines('one', 0, 20), ...lines('two', 0, 20)].map((l) => `${l}\n`));
        assert.ok(logs.some((l) => l.includes('again; continuing at')), logs.join('\n'));
      } finally {
        await agent.close();
      }
    });
  });

  test('a record longer than Kinesis takes is cut and ends with truncatedRecordTerminator', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('huge');
      await createStream(kinesis, stream, 1);
      const agent = await start(dir, [
        { filePattern: 'huge.log', kinesisStream: stream, partitionKeyOption: 'DETERMINISTIC', truncatedRecordTerminator: '...\n' },
      ]);
      try {
        const huge = `${'h'.repeat(2 * 1024 * 1024)}\n`;
        await writeFile(join(dir, 'huge.log'), `small\n${huge}after\n`);
        await waitFor(() => agent.progress().total.recordsSent === 3, 20_000, 'three records');
        const got = await readStream(kinesis, stream);
        const cut = got.find((r) => r.startsWith('hhh')) ?? '';
        // 1 MiB less the 32-character MD5 partition key, the terminator at the end.
        assert.equal(cut.length, 1024 * 1024 - 32);
        assert.ok(cut.endsWith('h...\n'));
        assert.deepEqual(got.filter((r) => r !== cut).sort(), ['after\n', 'small\n']);
      } finally {
        await agent.close();
      }
    });
  });

  test('files that appear later are read from their start; compressed files are ignored', async () => {
    await withTempDir(async (dir) => {
      const stream = uniqueName('newfiles');
      await createStream(kinesis, stream, 1);
      await writeFile(join(dir, 'a.log'), text(lines('existing', 0, 10)));
      const agent = await start(dir, [{ filePattern: '*.log*', kinesisStream: stream }]);
      try {
        const want: string[] = [];
        for (const name of ['b.log', 'c.log.1']) {
          const ls = lines(name, 0, 30);
          want.push(...ls);
          await writeFile(join(dir, name), text(ls));
        }
        await writeFile(join(dir, 'd.log.gz'), 'not text\n');
        const more = lines('a-more', 0, 5);
        want.push(...more);
        await appendFile(join(dir, 'a.log'), text(more));
        await expectExactlyOnce(stream, want.map((l) => `${l}\n`));
      } finally {
        await agent.close();
      }
    });
  });
});
