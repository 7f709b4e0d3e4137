#!/usr/bin/env node
import { startEddy } from '../server.js';
import { parseOptions, usage, UsageError } from './options.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`eddy: unknown command '${command}'\n\n${usage()}\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseOptions(rest, process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`eddy: ${e.message}\n\n${usage()}\n`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const eddy = await startEddy(parsed.options);
  const storage = parsed.options.memory ? 'memory' : (parsed.options.dataDir ?? './data');
  process.stdout.write(`eddy listening on ${eddy.endpoint} (storage: ${storage})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await eddy.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`eddy: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
