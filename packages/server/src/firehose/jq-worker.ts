/**
 * The worker thread jq runs in (jq.ts), so that a long or endless jq program neither blocks the
 * server's event loop nor outlives its time limit: the worker is terminated instead.
 */
import { parentPort } from 'node:worker_threads';
import { JqEngineFailure, LocalJqEngine } from './jq-engine.js';

export interface JqRequest {
  id: number;
  args: string[];
  stdin: string;
}

export type JqReply = { id: number; status: number; stdout: string; stderr: string } | { id: number; failure: string };

const engine = new LocalJqEngine();

parentPort?.on('message', (req: JqRequest) => {
  engine.exec(req.args, req.stdin).then(
    (r) => parentPort?.postMessage({ id: req.id, ...r } satisfies JqReply),
    (e: unknown) => parentPort?.postMessage({ id: req.id, failure: e instanceof JqEngineFailure ? e.message : `jq engine failure: ${String(e)}` } satisfies JqReply),
  );
});
