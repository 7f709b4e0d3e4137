// The Node flags `npm start` gives `eddy serve` (package.json's start script), so that every
// benchmark runs Eddy as a user's `npm start` does: spawned servers get them on the command line,
// an Eddy in a worker thread gets their equivalents.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** E.g. ['--max-semi-space-size=4', '--initial-old-space-size=64']. */
export const npmStartFlags = pkg.scripts.start
  .split(/\s+/)
  .slice(1)
  .filter((t) => t.startsWith('--'));

/**
 * For `new Worker(...)` hosting Eddy: the young generation as a resourceLimit (V8 sizes it at three
 * semi-spaces), and the initial old space as a V8 flag set before the worker's isolate is made
 * (it applies to isolates made from then on; the calling thread's is already sized).
 */
export function eddyWorkerOptions() {
  const resourceLimits = {};
  for (const f of npmStartFlags) {
    const [name, value] = f.split('=');
    if (name === '--max-semi-space-size') resourceLimits.maxYoungGenerationSizeMb = 3 * Number(value);
    else if (name === '--initial-old-space-size') v8.setFlagsFromString(f);
    else throw new Error(`bench/npm-start-flags.mjs: no worker equivalent for ${f}`);
  }
  return { resourceLimits };
}
