import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadAgentConfig, parseAgentConfig } from '../../src/agent/config.js';
import { AgentError } from '../../src/agent/errors.js';
import { globToRegExp } from '../../src/agent/glob.js';
import { withTempDir } from './helpers.js';

describe('agent.json', () => {
  test("the agent's own example configuration loads, comments and all", async () => {
    await withTempDir(async (dir) => {
      // configuration/example/agent.json of awslabs/amazon-kinesis-agent, plus a Jackson-style comment.
      const text = `{
        "checkpointFile": "/tmp/aws-kinesis-agent-checkpoints/main.log",
        "cloudwatch.emitMetrics": true,
        "cloudwatch.endpoint": "https://monitoring.us-west-2.amazonaws.com",
        "kinesis.endpoint": "https://kinesis.us-west-2.amazonaws.com",
        "awsAccessKeyId": "ACCESSKEY",
        "awsSecretAccessKey": "SECRETKEY",
        /* Flags the agent reads but this one does not need. */
        "maxSendingThreads": 8, // and a line comment
        "flows": [
          {
            "filePattern": "/tmp/aws-kinesis-agent-test1.log*",
            "initialPosition": "END_OF_FILE",
            "kinesisStream": "aws-kinesis-agent-test1",
            "dataProcessingOptions": [ { "optionName": "CSVTOJSON", "customFieldNames": [ "field1", "field2", "field3" ], "delimiter": "\\\\t" } ]
          },
          {
            "filePattern": "/tmp/aws-kinesis-agent-test2.log*",
            "initialPosition": "START_OF_FILE",
            "kinesisStream": "aws-kinesis-agent-test2",
            "dataProcessingOptions": [ { "optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG" } ]
          },
          { "filePattern": "/tmp/app.log*", "deliveryStream": "yourdeliverystream", "maxBufferAgeMillis": "10000" }
        ]
      }`;
      const path = join(dir, 'agent.json');
      await writeFile(path, text);
      const c = await loadAgentConfig(path);
      assert.equal(c.checkpointFile, '/tmp/aws-kinesis-agent-checkpoints/main.log');
      assert.equal(c.kinesis.endpoint, 'https://kinesis.us-west-2.amazonaws.com');
      assert.equal(c.kinesis.region, 'us-west-2');
      assert.deepEqual(c.credentials, { accessKeyId: 'ACCESSKEY', secretAccessKey: 'SECRETKEY' });
      assert.equal(c.flows.length, 3);
      const [f1, f2, f3] = c.flows;
      assert.equal(f1?.id, 'kinesis:aws-kinesis-agent-test1:/tmp/aws-kinesis-agent-test1.log*');
      assert.deepEqual(f1?.destination, { kind: 'kinesis', streamName: 'aws-kinesis-agent-test1', partitionKeyOption: 'RANDOM' });
      assert.equal(f1?.initialPosition, 'END_OF_FILE');
      assert.deepEqual(f1?.dataProcessingOptions, [{ optionName: 'CSVTOJSON', customFieldNames: ['field1', 'field2', 'field3'], delimiter: '\\t', jsonFormat: 'COMPACT' }]);
      assert.equal(f2?.initialPosition, 'START_OF_FILE');
      assert.equal(f3?.id, 'fh:yourdeliverystream:/tmp/app.log*');
      assert.equal(f3?.maxBufferAgeMillis, 10_000);
      // Defaults of FileFlow and FirehoseConstants.
      assert.equal(f3?.maxBufferSizeRecords, 500);
      assert.equal(f3?.maxBufferSizeBytes, 4 * 1024 * 1024);
      assert.equal(f3?.maxRecordBytes, 1000 * 1024);
      assert.equal(f1?.maxBufferSizeBytes, 5 * 1024 * 1024);
      assert.equal(f1?.maxBufferAgeMillis, 60_000);
      assert.equal(f1?.skipHeaderLines, 0);
      assert.equal(f1?.truncatedRecordTerminator.toString(), '\n');
      assert.equal(c.shutdownTimeoutMillis, 10_000);
      assert.equal(c.statusReportingPeriodSeconds, 30);
    });
  });

  test('the release configuration: empty endpoints mean the default; the checkpoint file defaults next to the config', () => {
    const c = parseAgentConfig(
      {
        'cloudwatch.emitMetrics': true,
        'kinesis.endpoint': '',
        'firehose.endpoint': '',
        flows: [
          { filePattern: '/tmp/app.log*', kinesisStream: 'yourkinesisstream', partitionKeyOption: 'RANDOM' },
          { filePattern: '/tmp/app.log*', deliveryStream: 'yourdeliverystream' },
        ],
      },
      { configDir: '/etc/aws-kinesis', defaultRegion: 'eu-west-1' },
    );
    assert.equal(c.kinesis.endpoint, undefined);
    assert.equal(c.kinesis.region, 'eu-west-1');
    assert.equal(c.checkpointFile, '/etc/aws-kinesis/eddy-agent-checkpoints.json');
    assert.equal(c.credentials, undefined);
  });

  test('an endpoint without a scheme gets https://, and an Eddy endpoint keeps its http://', () => {
    const base = { flows: [{ filePattern: '/tmp/a', kinesisStream: 's' }] };
    assert.equal(parseAgentConfig({ ...base, 'kinesis.endpoint': 'kinesis.us-east-1.amazonaws.com' }).kinesis.endpoint, 'https://kinesis.us-east-1.amazonaws.com');
    const c = parseAgentConfig({ ...base, 'kinesis.endpoint': 'http://127.0.0.1:4567', 'kinesis.region': 'eu-central-1' });
    assert.deepEqual(c.kinesis, { endpoint: 'http://127.0.0.1:4567', region: 'eu-central-1' });
  });

  test('mistakes are reported with the path of the key', () => {
    const flow = { filePattern: '/tmp/a.log', kinesisStream: 's' };
    const table: [unknown, RegExp][] = [
      [{}, /^flows: an array of at least one flow is required/],
      [{ flows: [{ kinesisStream: 's' }] }, /^flows\[0\]\.filePattern: required/],
      [{ flows: [{ filePattern: '/tmp/a' }] }, /^flows\[0\]: exactly one of kinesisStream and deliveryStream/],
      [{ flows: [{ ...flow, deliveryStream: 'd' }] }, /^flows\[0\]: exactly one of/],
      [{ flows: [{ ...flow, partitionKeyOption: 'HASH' }] }, /^flows\[0\]\.partitionKeyOption: must be one of RANDOM, DETERMINISTIC, got "HASH"/],
      [{ flows: [{ ...flow, initialPosition: 'MIDDLE' }] }, /^flows\[0\]\.initialPosition: must be one of START_OF_FILE, END_OF_FILE/],
      [{ flows: [{ ...flow, maxBufferAgeMillis: 10 }] }, /^flows\[0\]\.maxBufferAgeMillis: must be between 1000 and 900000, got 10/],
      [{ flows: [{ ...flow, maxBufferSizeRecords: 501 }] }, /^flows\[0\]\.maxBufferSizeRecords: must be between 1 and 500/],
      [{ flows: [{ ...flow, skipHeaderLines: 'two' }] }, /^flows\[0\]\.skipHeaderLines: must be an integer, got "two"/],
      [{ flows: [{ ...flow, multiLineStartPattern: '([' }] }, /^flows\[0\]\.multiLineStartPattern: not a valid regular expression/],
      [{ flows: [{ ...flow, filePattern: '/var/*/x.log' }] }, /^flows\[0\]\.filePattern: wildcards are allowed in the file name only/],
      [{ flows: [{ ...flow, dataProcessingOptions: { optionName: 'SINGLELINE' } }] }, /^flows\[0\]\.dataProcessingOptions: must be an array/],
      [{ flows: [{ ...flow, dataProcessingOptions: [{ optionName: 'TOXML' }] }] }, /^flows\[0\]\.dataProcessingOptions\[0\]\.optionName: must be one of SINGLELINE/],
      [{ flows: [{ ...flow, dataProcessingOptions: [{ optionName: 'CSVTOJSON' }] }] }, /^flows\[0\]\.dataProcessingOptions\[0\]\.customFieldNames: required for CSVTOJSON/],
      [{ flows: [{ ...flow, dataProcessingOptions: [{ optionName: 'LOGTOJSON' }] }] }, /^flows\[0\]\.dataProcessingOptions\[0\]\.logFormat: required, one of COMMONAPACHELOG/],
      [
        { flows: [{ ...flow, dataProcessingOptions: [{ optionName: 'LOGTOJSON', logFormat: 'SYSLOG', matchPattern: '(a)' }] }] },
        /^flows\[0\]\.dataProcessingOptions\[0\]: customFieldNames must be specified when matchPattern is specified/,
      ],
      [{ flows: [{ ...flow, dataProcessingOptions: [{ optionName: 'ADDEC2METADATA' }] }] }, /^flows\[0\]\.dataProcessingOptions\[0\]\.optionName: ADDEC2METADATA needs/],
      [{ flows: [flow, flow] }, /^flows\[1\]: a second flow with the same file pattern and destination/],
      [{ flows: [flow], awsAccessKeyId: 'A' }, /^awsSecretAccessKey: awsAccessKeyId and awsSecretAccessKey go together/],
      [{ flows: [flow], assumeRoleARN: 'arn:aws:iam::1:role/x' }, /^assumeRoleARN: assuming a role is not supported/],
      [{ flows: [flow], 'cloudwatch.emitMetrics': 'sometimes' }, /^cloudwatch\.emitMetrics: must be true or false/],
      [{ flows: [flow], 'kinesis.endpoint': 'http://[bad' }, /^kinesis\.endpoint: not a URL/],
    ];
    for (const [json, re] of table) {
      assert.throws(
        () => parseAgentConfig(json),
        (e: unknown) => e instanceof AgentError && re.test(e.message),
        JSON.stringify(json),
      );
    }
  });

  test('values as strings, as the agent accepts them', () => {
    const c = parseAgentConfig({
      'cloudwatch.emitMetrics': 'false',
      'log.statusReportingPeriodSeconds': '5',
      flows: [{ filePattern: 'logs/app-*.log', kinesisStream: 's', skipHeaderLines: '1', multiLineStartPattern: '\\d{4}-\\d{2}-\\d{2}' }],
    }, { baseDir: '/srv/app' });
    assert.equal(c.cloudwatchEmitMetrics, false);
    assert.equal(c.statusReportingPeriodSeconds, 5);
    assert.equal(c.flows[0]?.skipHeaderLines, 1);
    assert.equal(c.flows[0]?.filePattern.directory, '/srv/app/logs');
    // lookingAt(): anchored at the start of the line only.
    assert.equal(c.flows[0]?.multiLineStartPattern?.test('2024-03-01 12:00 INFO x'), true);
    assert.equal(c.flows[0]?.multiLineStartPattern?.test('  at 2024-03-01'), false);
  });

  test("file name globs in Java's syntax", () => {
    const table: [string, string, boolean][] = [
      ['app.log*', 'app.log', true],
      ['app.log*', 'app.log.1', true],
      ['app.log*', 'xapp.log', false],
      ['*.log', 'a.b.log', true],
      ['access.log.?', 'access.log.1', true],
      ['access.log.?', 'access.log.10', false],
      ['[a-c]*.log', 'b1.log', true],
      ['[!a-c]*.log', 'b1.log', false],
      ['{access,error}.log', 'error.log', true],
      ['{access,error}.log', 'other.log', false],
      ['app\\*.log', 'app*.log', true],
      ['app\\*.log', 'appx.log', false],
      ['a+b(1).log', 'a+b(1).log', true],
    ];
    for (const [glob, name, want] of table) assert.equal(globToRegExp(glob).test(name), want, `${glob} ~ ${name}`);
  });
});
