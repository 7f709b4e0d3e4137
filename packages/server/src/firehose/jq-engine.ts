/**
 * The jq engine: jq 1.7.1 compiled to WebAssembly by jq-wasm, loaded from jq-wasm's Emscripten
 * build with textual patches (each checked to apply exactly once), because jq-wasm's own wrapper
 * is not fit for a server:
 *  - stdin was fed by copying the rest of the input for every byte read (quadratic: 100 KB took
 *    2 s); it now advances a view;
 *  - stdout/stderr grew by a fresh copy per byte (quadratic); they now collect into arrays;
 *  - a non-zero jq exit set `process.exitCode` of the whole process; it no longer does;
 *  - an entry point returns jq's exit status with its output, which the wrapper threw away.
 * Every run leaks the part of the WebAssembly stack jq's `main` was using when it called exit(),
 * so an instance is retired long before its stack runs out (jq-wasm crashed after ~300 calls).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';

export interface ExecResult {
  status: number;
  stdout: string;
  stderr: string;
}

interface JqInstance {
  eddyRun(input: string, args: string[]): ExecResult;
  eddyStackPointer(): number;
}

type JqFactory = (moduleArg?: object) => Promise<JqInstance>;

const PATCHES: readonly { find: RegExp | string; replace: string }[] = [
  { find: 'stdinBuffer = stdinBuffer.slice(1);', replace: 'stdinBuffer = stdinBuffer.subarray(1);' },
  {
    find: /const tmp = new Uint8Array\(stdoutBuffer\.length \+ 1\);\s*tmp\.set\(stdoutBuffer, 0\);\s*tmp\[tmp\.length - 1\] = charCode;\s*stdoutBuffer = tmp;/,
    replace: '__eddyOut.push(charCode);',
  },
  {
    find: /const tmp = new Uint8Array\(stderrBuffer\.length \+ 1\);\s*tmp\.set\(stderrBuffer, 0\);\s*tmp\[tmp\.length - 1\] = charCode;\s*stderrBuffer = tmp;/,
    replace: '__eddyErr.push(charCode);',
  },
  { find: 'let stderrBuffer = new Uint8Array(0);', replace: 'let stderrBuffer = new Uint8Array(0); let __eddyOut = []; let __eddyErr = [];' },
  { find: 'quit_ = (status, toThrow) => { process.exitCode = status; throw toThrow; };', replace: 'quit_ = (status, toThrow) => { throw toThrow; };' },
  {
    find: 'Module["callMain"] = callMain;',
    replace:
      'Module["callMain"] = callMain;' +
      ' Module["eddyRun"] = (input, args) => { stdinBuffer = toByteArray(input); __eddyOut = []; __eddyErr = [];' +
      ' const status = callMain(args);' +
      ' return { status, stdout: fromByteArray(Uint8Array.from(__eddyOut)), stderr: fromByteArray(Uint8Array.from(__eddyErr)) }; };' +
      ' Module["eddyStackPointer"] = () => stackAlloc(0);',
  },
];

/** The WebAssembly API (the ES lib this project compiles with does not declare it). */
interface WasmInstance {
  readonly exports: object;
}
const Wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object, imports: object) => WasmInstance } }).WebAssembly;

let factory: JqFactory | undefined;

function loadFactory(): JqFactory {
  if (factory) return factory;
  const require = createRequire(import.meta.url);
  const path = require.resolve('jq-wasm/dist/build/jq.js');
  let src = readFileSync(path, 'utf8');
  for (const p of PATCHES) {
    const count = typeof p.find === 'string' ? src.split(p.find).length - 1 : (src.match(new RegExp(p.find.source, 'g')) ?? []).length;
    if (count !== 1) throw new Error(`jq-wasm at ${path} is not the build this module patches (pattern ${String(p.find).slice(0, 60)} found ${count} times)`);
    src = typeof p.find === 'string' ? src.replace(p.find, () => p.replace) : src.replace(p.find, () => p.replace);
  }
  const mod = { exports: {} as unknown };
  const fn = compileFunction(src, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: path });
  fn(mod.exports, require, mod, path, dirname(path));
  const raw = mod.exports as JqFactory;
  // The build inlines its WebAssembly as base64 and compiles it afresh for every instance, which
  // throws away V8's optimized code each time an instance is retired (runs took 30 ms instead of
  // 8). One compiled module serves every instance, through Emscripten's instantiateWasm hook.
  const wasm = /data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)/.exec(src);
  if (!wasm) throw new Error(`jq-wasm at ${path} has no inline WebAssembly`);
  const compiled = new Wasm.Module(Buffer.from(wasm[1]!, 'base64'));
  factory = () =>
    raw({
      instantiateWasm(imports: object, receive: (instance: WasmInstance, module: object) => unknown) {
        const instance = new Wasm.Instance(compiled, imports);
        receive(instance, compiled);
        return instance.exports;
      },
    });
  return factory;
}

/** Stack a run may leak before its instance is retired; runs cap their argv well below it. */
const STACK_LEAK_BUDGET = 24 * 1024;
const MAX_RUNS_PER_INSTANCE = 200;

/** Runs the jq command line on some stdin. */
export interface JqEngine {
  exec(args: string[], stdin: string): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Thrown when the WebAssembly instance itself fails (out of memory, a trap); the instance is dropped. */
export class JqEngineFailure extends Error {
  override name = 'JqEngineFailure';
}

/** The engine in this thread. */
export class LocalJqEngine implements JqEngine {
  #instance: Promise<JqInstance> | undefined;
  #runs = 0;
  #baseSp = 0;

  async exec(args: string[], stdin: string): Promise<ExecResult> {
    const inst = await this.#get();
    try {
      return inst.eddyRun(stdin, args);
    } catch (e) {
      this.#instance = undefined; // an aborted instance is unusable
      throw new JqEngineFailure(`jq engine failure: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.#runs++;
      if (this.#instance && (this.#runs >= MAX_RUNS_PER_INSTANCE || this.#baseSp - inst.eddyStackPointer() > STACK_LEAK_BUDGET)) this.#instance = undefined;
    }
  }

  async #get(): Promise<JqInstance> {
    if (!this.#instance) {
      const p = loadFactory()();
      this.#instance = p;
      this.#runs = 0;
      const inst = await p;
      this.#baseSp = inst.eddyStackPointer();
      return inst;
    }
    return this.#instance;
  }

  close(): Promise<void> {
    this.#instance = undefined;
    return Promise.resolve();
  }
}
