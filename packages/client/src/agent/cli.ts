#!/usr/bin/env node
// eddy-agent: the Kinesis Agent's command line (aws-kinesis-agent -c FILE) on Node.js.
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startAgent } from './agent.js';
import { type LogLevel, loadAgentConfig } from './config.js';
import { AgentError } from './errors.js';

const DEFAULT_CONFIG = '/etc/aws-kinesis/agent.json';

export function usage(): string {
  return `Usage: eddy-agent --config agent.json [options]

Tails the files named by the flows of a Kinesis Agent configuration file and sends their records
to Kinesis Data Streams (kinesisStream) or Firehose (deliveryStream), at least once, resuming
from a checkpoint file after a restart.

Options:
  -c, --config FILE     the configuration file (default ${DEFAULT_CONFIG});
                        --configuration is accepted too, as the Java agent spells it
  -L, --log-level LEVEL ERROR, WARN, INFO (default), DEBUG or TRACE; overrides log.level
  -l, --log-file FILE   append log lines to FILE instead of stderr; overrides log.file
  -h, --help            show this help

Signals: SIGTERM or SIGINT stops reading, sends what was read, waits up to shutdownTimeoutMillis
for acknowledgements and writes the checkpoint; a second signal exits at once.
Environment: AWS_REGION when the file names no region; without awsAccessKeyId/awsSecretAccessKey
the AWS SDK's credential chain (AWS_ACCESS_KEY_ID, profiles, ...) is used.`;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        configuration: { type: 'string' },
        'log-level': { type: 'string', short: 'L' },
        'log-file': { type: 'string', short: 'l' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`eddy-agent: ${(e as Error).message}\n\n${usage()}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const level = values['log-level']?.toUpperCase();
  if (level !== undefined && !['ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'].includes(level)) {
    process.stderr.write(`eddy-agent: --log-level: must be ERROR, WARN, INFO, DEBUG or TRACE, got ${values['log-level']}\n`);
    return 2;
  }
  const path = values.config ?? values.configuration ?? DEFAULT_CONFIG;
  let config;
  try {
    config = await loadAgentConfig(path, { defaultRegion: process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] });
  } catch (e) {
    process.stderr.write(`eddy-agent: ${(e as Error).message}\n`);
    return e instanceof AgentError ? 2 : 1;
  }
  if (level !== undefined) config = { ...config, logLevel: level as LogLevel };
  const logFile = values['log-file'] ?? config.logFile;
  const write = logFile === undefined ? (line: string) => process.stderr.write(line) : (line: string) => appendFileSync(logFile, line);
  const log = (lvl: LogLevel, message: string): void => write(`${new Date().toISOString()} ${lvl} eddy-agent: ${message}\n`);

  const agent = await startAgent({ config, log });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log('INFO', `${signal} received, shutting down`);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await agent.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`eddy-agent: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
