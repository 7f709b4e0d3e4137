/**
 * jq for dynamic partitioning's MetadataExtraction processor (checklist 4.7: JsonParsingEngine
 * JQ-1.6; the AWS example `{customer_id: .customer_id, year: .event_timestamp | strftime("%Y")}`).
 *
 * The engine is the real jq (1.7.1, WebAssembly, jq-engine.ts), run in a worker thread so that a
 * program never blocks the server and one that runs away is stopped after 30 s.
 *
 * Many records go through one jq run: the program is wrapped as `try [ (EXPR) ] catch {...}`
 * and fed the records as a stream, so each record yields exactly one line, its outputs or its
 * error. Programs that read other inputs or halt (`input`, `inputs`, `halt`, `halt_error`) run
 * one record per jq run instead.
 *
 * Numbers keep their digits both ways (json-lossless.ts): jq 1.7 preserves integer literals, and
 * results are parsed back without rounding.
 */
import { Worker } from 'node:worker_threads';
import type { ExecResult } from './jq-engine.js';
import type { JqReply, JqRequest } from './jq-worker.js';
import { JsonDecimal, JsonSyntaxError, parseJsonLossless, stringifyJson, type JsonValue } from './json-lossless.js';

export interface JqProgram {
  /**
   * The single result of the program on one input: a JSON value (parsed), or a Buffer/Uint8Array
   * holding a record's JSON text (read without rounding its numbers). Throws {@link JqError} when
   * the program fails on it or yields no result or several.
   */
  run(input: unknown): Promise<unknown>;
  /** The same over many inputs in one jq run; one outcome per input, in order. */
  runAll(inputs: readonly unknown[]): Promise<JqOutcome[]>;
}

export type JqOutcome = { ok: true; value: JsonValue } | { ok: false; error: JqError };

export const JqErrorCode = {
  /** The expression does not compile. */
  CompileError: 'CompileError',
  /** The program raised an error on this input (jq "error (at ...)"). */
  RuntimeError: 'RuntimeError',
  /** The input is not JSON. */
  InvalidInput: 'InvalidInput',
  /** The program yielded no value or more than one for this input. */
  ResultCount: 'ResultCount',
  /** The WebAssembly engine itself failed (out of memory, stack exhausted). */
  EngineFailure: 'EngineFailure',
} as const;
export type JqErrorCode = (typeof JqErrorCode)[keyof typeof JqErrorCode];

export class JqError extends Error {
  constructor(
    readonly code: JqErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JqError';
  }
}

// ---------------------------------------------------------------------------------------------
// The engine, in a worker thread

/** A jq run that takes longer is stopped (its worker terminated) and fails as EngineFailure. */
const RUN_TIMEOUT_MS = 30_000;

/** One jq run at a time goes to the worker, so that a run's time limit counts only its own time. */
class WorkerEngine {
  #worker: Worker | undefined;
  #next = 0;
  readonly #queue: { args: string[]; stdin: string; timeoutMs: number; resolve: (r: ExecResult) => void; reject: (e: Error) => void }[] = [];
  #current: { id: number; resolve: (r: ExecResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;

  exec(args: string[], stdin: string, timeoutMs = RUN_TIMEOUT_MS): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      this.#queue.push({ args, stdin, timeoutMs, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops the worker; the next run starts a new one. */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    const closed = new JqError(JqErrorCode.EngineFailure, 'jq engine closed');
    this.#settle(closed);
    for (const q of this.#queue.splice(0)) q.reject(closed);
    if (w) await w.terminate();
  }

  #dispatch(): void {
    if (this.#current || this.#queue.length === 0) return;
    const job = this.#queue.shift()!;
    const worker = this.#start();
    const id = ++this.#next;
    const timer = setTimeout(() => this.#fail(new JqError(JqErrorCode.EngineFailure, `jq did not finish within ${job.timeoutMs / 1000} s and was stopped`)), job.timeoutMs);
    this.#current = { id, resolve: job.resolve, reject: job.reject, timer };
    worker.ref(); // a run in flight keeps the process alive; an idle worker does not
    worker.postMessage({ id, args: job.args, stdin: job.stdin } satisfies JqRequest);
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./jq-worker.js', import.meta.url));
    w.on('message', (m: JqReply) => {
      if (this.#current?.id !== m.id) return;
      w.unref();
      this.#settle('failure' in m ? new JqError(JqErrorCode.EngineFailure, m.failure) : { status: m.status, stdout: m.stdout, stderr: m.stderr });
      this.#dispatch();
    });
    w.on('error', (e) => this.#fail(new JqError(JqErrorCode.EngineFailure, `jq engine failure: ${e.message}`)));
    w.on('exit', () => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      this.#settle(new JqError(JqErrorCode.EngineFailure, 'jq engine stopped'));
      this.#dispatch();
    });
    w.unref();
    this.#worker = w;
    return w;
  }

  /** Ends the run in flight: stops its worker (the next run starts another). */
  #fail(e: JqError): void {
    const w = this.#worker;
    this.#worker = undefined;
    this.#settle(e);
    void w?.terminate();
    this.#dispatch();
  }

  #settle(outcome: ExecResult | Error): void {
    const c = this.#current;
    if (!c) return;
    this.#current = undefined;
    clearTimeout(c.timer);
    if (outcome instanceof Error) c.reject(outcome);
    else c.resolve(outcome);
  }
}

const engine = new WorkerEngine();

/** Stops jq's worker thread (it also stops by itself when the process exits). */
export function closeJq(): Promise<void> {
  return engine.close();
}

// ---------------------------------------------------------------------------------------------
// Programs

const ERROR_KEY = '__eddy_jq_error__';
const READS_OTHER_INPUTS = /\b(inputs?|halt|halt_error|input_line_number)\b/;
/** Inputs per jq run: bounded so that one run's stdin stays modest. */
const BATCH_BYTES = 4 * 1024 * 1024;

/** jq's diagnostics without the program text it echoes (which shows this module's wrapper). */
function cleanMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  return lines
    .filter((l) => l.startsWith('jq: ') && !/^jq: \d+ compile errors?$/.test(l))
    .map((l) => l.replace(/:$/, ''))
    .join('; ');
}

/**
 * Compiles a jq expression. An expression that does not compile rejects with a {@link JqError}
 * (code CompileError) carrying jq's message, for CreateDeliveryStream's InvalidArgumentException.
 * `timeoutMs` bounds each jq run (default 30 s); a record whose run is stopped fails as
 * EngineFailure, the others of its batch are run again without it.
 */
export async function compileJq(expression: string, options: { timeoutMs?: number } = {}): Promise<JqProgram> {
  const timeoutMs = options.timeoutMs ?? RUN_TIMEOUT_MS;
  if (typeof expression !== 'string' || expression.trim() === '') throw new JqError(JqErrorCode.CompileError, 'the jq expression is empty');
  // Compiled, never evaluated: `if false` keeps `repeat(.)`-like programs from running here.
  // A newline before the closing parenthesis only when a '#' comment could swallow it, so that
  // jq's line numbers and messages match the expression as written.
  const nl = expression.includes('#') ? '\n' : '';
  const check = await engine.exec(['-n', '-M', '-c', `if false then (${expression}${nl}) else empty end`], '', timeoutMs);
  if (check.status !== 0) throw new JqError(JqErrorCode.CompileError, cleanMessage(check.stderr) || `jq exited with status ${check.status}`);

  const wrapped = `try [ (${expression}${nl}) ] catch {"${ERROR_KEY}": (if type == "string" then . else tojson end)}`;
  const oneAtATime = READS_OTHER_INPUTS.test(expression.replace(/"(?:[^"\\]|\\.)*"/g, '""'));

  const runBatch = async (texts: readonly string[]): Promise<JqOutcome[]> => {
    let r: ExecResult;
    try {
      r = await engine.exec(['-M', '-c', wrapped], texts.join('\n'), timeoutMs);
    } catch (e) {
      if (!(e instanceof JqError)) throw e;
      // A run that was stopped (time limit, engine failure) costs only the records at fault.
      if (texts.length === 1) return [{ ok: false, error: e }];
      const out: JqOutcome[] = [];
      for (const t of texts) out.push(...(await runBatch([t])));
      return out;
    }
    const lines = r.stdout === '' ? [] : r.stdout.replace(/\n$/, '').split('\n');
    if (lines.length !== texts.length) {
      if (texts.length > 1) {
        // Something ended the run early (an engine limit); fall back to one input per run.
        const out: JqOutcome[] = [];
        for (const t of texts) out.push(...(await runBatch([t])));
        return out;
      }
      const msg = cleanMessage(r.stderr) || `jq exited with status ${r.status} without a result`;
      return [{ ok: false, error: new JqError(JqErrorCode.RuntimeError, msg) }];
    }
    return lines.map((line) => {
      const v = parseJsonLossless(line);
      if (Array.isArray(v)) {
        if (v.length === 1) return { ok: true, value: v[0]! };
        return { ok: false, error: new JqError(JqErrorCode.ResultCount, `the jq expression yielded ${v.length} results for one record; it must yield exactly one`) };
      }
      const err = (v as Record<string, JsonValue>)[ERROR_KEY];
      return { ok: false, error: new JqError(JqErrorCode.RuntimeError, `jq: error: ${typeof err === 'string' ? err : stringifyJson(err)}`) };
    });
  };

  const runAll = async (inputs: readonly unknown[]): Promise<JqOutcome[]> => {
    const out: JqOutcome[] = new Array<JqOutcome>(inputs.length);
    const texts: string[] = [];
    const slots: number[] = [];
    inputs.forEach((input, i) => {
      try {
        texts.push(inputText(input));
        slots.push(i);
      } catch (e) {
        out[i] = { ok: false, error: e instanceof JqError ? e : new JqError(JqErrorCode.InvalidInput, String(e)) };
      }
    });
    let start = 0;
    while (start < texts.length) {
      let end = start;
      let bytes = 0;
      do {
        bytes += texts[end]!.length + 1;
        end++;
      } while (!oneAtATime && end < texts.length && bytes + texts[end]!.length < BATCH_BYTES);
      const results = await runBatch(texts.slice(start, end));
      results.forEach((r, k) => {
        out[slots[start + k]!] = r;
      });
      start = end;
    }
    return out;
  };

  // run() calls made in the same turn share one jq run: each jq run costs ~10 ms of start-up
  // (jq compiles its builtins), a record ~0.2 ms.
  let pending: { input: unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const flush = (): void => {
    const batch = pending;
    pending = [];
    runAll(batch.map((p) => p.input)).then(
      (results) =>
        results.forEach((r, i) => {
          if (r.ok) batch[i]!.resolve(r.value);
          else batch[i]!.reject(r.error);
        }),
      (e: unknown) => batch.forEach((p) => p.reject(e)),
    );
  };
  return {
    runAll,
    run(input: unknown): Promise<unknown> {
      return new Promise((resolve, reject) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push({ input, resolve, reject });
      });
    },
  };
}

/** One input as a single line of JSON. */
function inputText(input: unknown): string {
  if (input instanceof Uint8Array) {
    const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
    try {
      return stringifyJson(parseJsonLossless(text));
    } catch (e) {
      throw new JqError(JqErrorCode.InvalidInput, `the record is not valid JSON: ${e instanceof JsonSyntaxError ? e.message : String(e)}`);
    }
  }
  if (input === undefined) throw new JqError(JqErrorCode.InvalidInput, 'no input');
  return stringifyJson(input);
}

/**
 * A MetadataExtraction result as partition keys: the query must yield an object; string values
 * are taken as they are, numbers and booleans as their JSON text (digits exactly as in the
 * record), and a null or missing key is an error, since it cannot name a prefix.
 */
export function toPartitionKeys(result: unknown): Record<string, string> {
  if (typeof result !== 'object' || result === null || Array.isArray(result) || result instanceof JsonDecimal) {
    throw new JqError(JqErrorCode.RuntimeError, `the MetadataExtractionQuery must yield an object of partition keys, got ${stringifyJson(result)}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(result as Record<string, unknown>)) {
    if (v === null || v === undefined) throw new JqError(JqErrorCode.RuntimeError, `partition key '${k}' evaluated to null`);
    out[k] = typeof v === 'string' ? v : stringifyJson(v);
  }
  return out;
}
