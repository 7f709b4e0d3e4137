/**
 * Lambda data transformation (checklist 4.7; AWS developer guide "Amazon Data Firehose data
 * transformation"): one invocation per batch with the Firehose event
 * `{invocationId, deliveryStreamArn, region, sourceKinesisStreamArn?, records: [{recordId,
 * approximateArrivalTimestamp, data, kinesisRecordMetadata?}]}`, answered with
 * `{records: [{recordId, result: Ok|Dropped|ProcessingFailed, data, metadata?: {partitionKeys}}]}`.
 *
 * The function is either
 *  - a local JavaScript module: the function name of the ARN, as `<localFunctions>/<name>.mjs`
 *    (or .js/.cjs), exporting `handler(event, context)` (async, or with a callback as its third
 *    parameter); it is re-imported when the file changes; or
 *  - any server speaking the Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`,
 *    RequestResponse): LocalStack, `sam local start-lambda`, or a stub.
 *
 * An invocation that fails (function error, timeout, unreachable endpoint, throttling) rejects
 * with {@link LambdaInvocationError}, whose `errorCode` is Firehose's (Lambda.FunctionError,
 * Lambda.ResourceNotFound, Lambda.InvokeLimitExceeded, ...); retrying it (NumberOfRetries) is the
 * caller's. An answer that breaks the contract (not JSON records, a recordId missing, repeated or
 * unknown, a bad result or data) makes every record ProcessingFailed, as Firehose does, with
 * `errorCode` Lambda.JsonProcessingException / Lambda.MissingRecordId / Lambda.DuplicatedRecordId
 * (AWS "Monitoring with CloudWatch Logs": Lambda invocation errors).
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { httpRequest, HttpRequestError } from './destinations/http-client.js';

export interface TransformRecord {
  recordId: string;
  approximateArrivalTimestamp: number;
  /** base64 */
  data: string;
  kinesisRecordMetadata?: Record<string, unknown>;
}

export interface TransformResult {
  recordId: string;
  result: 'Ok' | 'Dropped' | 'ProcessingFailed';
  /** base64 */
  data?: string;
  metadata?: { partitionKeys?: Record<string, string> };
  /** Why Eddy marked the record ProcessingFailed (the answer broke the contract): Firehose's code for the error output. */
  errorCode?: string;
  errorMessage?: string;
}

export interface TransformContext {
  deliveryStreamArn: string;
  region: string;
  invocationId: string;
  /** Kinesis-sourced delivery streams put it in the event. */
  sourceKinesisStreamArn?: string | undefined;
  /** Base URL of a Lambda Invoke API server. */
  lambdaEndpoint?: string | undefined;
  /** Directory of local function modules; tried before `lambdaEndpoint`. */
  localFunctions?: string | undefined;
  /** Function timeout (default 300 000 ms, Lambda's maximum for Firehose transformation: 5 minutes). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export const LambdaErrorCode = {
  FunctionError: 'Lambda.FunctionError',
  ResourceNotFound: 'Lambda.ResourceNotFound',
  InvokeAccessDenied: 'Lambda.InvokeAccessDenied',
  InvokeLimitExceeded: 'Lambda.InvokeLimitExceeded',
  ServiceException: 'Lambda.ServiceException',
  JsonProcessingException: 'Lambda.JsonProcessingException',
  MissingRecordId: 'Lambda.MissingRecordId',
  DuplicatedRecordId: 'Lambda.DuplicatedRecordId',
} as const;
export type LambdaErrorCode = (typeof LambdaErrorCode)[keyof typeof LambdaErrorCode];

export class LambdaInvocationError extends Error {
  constructor(
    readonly errorCode: LambdaErrorCode,
    message: string,
    /** Whether invoking again may succeed (throttling, a server error, a function error). */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'LambdaInvocationError';
  }
}

/** Lambda's synchronous response limit (bytes). */
const RESPONSE_LIMIT = 6_291_556;
const DEFAULT_TIMEOUT_MS = 300_000;

/** The function name and qualifier of `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`, `<account>:function:<name>` or `<name>`. */
export function parseFunctionArn(functionArn: string): { name: string; qualifier: string | undefined } {
  const parts = functionArn.split(':');
  const at = parts.indexOf('function');
  const name = at >= 0 ? parts[at + 1] : parts.length === 1 ? parts[0] : undefined;
  const qualifier = at >= 0 ? parts[at + 2] : undefined;
  if (!name || !/^[A-Za-z0-9_-]{1,140}$/.test(name)) {
    throw new LambdaInvocationError(LambdaErrorCode.ResourceNotFound, `'${functionArn}' does not name a Lambda function`, false);
  }
  return { name, qualifier: qualifier || undefined };
}

export async function invokeTransform(functionArn: string, records: readonly TransformRecord[], ctx: TransformContext): Promise<TransformResult[]> {
  const { name, qualifier } = parseFunctionArn(functionArn);
  const event: Record<string, unknown> = {
    invocationId: ctx.invocationId,
    deliveryStreamArn: ctx.deliveryStreamArn,
    region: ctx.region,
    ...(ctx.sourceKinesisStreamArn !== undefined ? { sourceKinesisStreamArn: ctx.sourceKinesisStreamArn } : {}),
    records: records.map((r) => ({
      recordId: r.recordId,
      approximateArrivalTimestamp: r.approximateArrivalTimestamp,
      data: r.data,
      ...(r.kinesisRecordMetadata !== undefined ? { kinesisRecordMetadata: r.kinesisRecordMetadata } : {}),
    })),
  };
  const timeoutMs = ctx.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const local = ctx.localFunctions !== undefined ? await findLocalFunction(ctx.localFunctions, name) : undefined;
  let answer: unknown;
  if (local !== undefined) {
    answer = await invokeLocal(local, name, functionArn, event, timeoutMs, ctx.region);
  } else if (ctx.lambdaEndpoint !== undefined) {
    answer = await invokeHttp(ctx.lambdaEndpoint, name, qualifier, event, timeoutMs, ctx.signal);
  } else {
    const where = ctx.localFunctions !== undefined ? `no ${name}.mjs in ${ctx.localFunctions} and no --lambda-endpoint` : 'neither --lambda-dir nor --lambda-endpoint is set';
    throw new LambdaInvocationError(LambdaErrorCode.ResourceNotFound, `Function not found: ${functionArn} (${where})`, false);
  }
  return checkAnswer(answer, records);
}

// ---------------------------------------------------------------------------------------------
// The contract

function allFailed(records: readonly TransformRecord[], errorCode: LambdaErrorCode, errorMessage: string): TransformResult[] {
  return records.map((r) => ({ recordId: r.recordId, result: 'ProcessingFailed', errorCode, errorMessage }));
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkAnswer(answer: unknown, records: readonly TransformRecord[]): TransformResult[] {
  const bad = (msg: string): TransformResult[] =>
    allFailed(records, LambdaErrorCode.JsonProcessingException, `There was an error parsing returned records from the Lambda function: ${msg}`);
  if (typeof answer !== 'object' || answer === null || !Array.isArray((answer as { records?: unknown }).records)) return bad('the response has no "records" array');
  const wanted = new Set(records.map((r) => r.recordId));
  const byId = new Map<string, TransformResult>();
  for (const r of (answer as { records: unknown[] }).records) {
    if (typeof r !== 'object' || r === null) return bad('a record is not an object');
    const { recordId, result, data, metadata } = r as Record<string, unknown>;
    if (typeof recordId !== 'string') {
      return allFailed(records, LambdaErrorCode.MissingRecordId, 'One or more record IDs were not returned. Ensure that the Lambda function returns all received record IDs.');
    }
    if (!wanted.has(recordId)) {
      return allFailed(records, LambdaErrorCode.MissingRecordId, `Record ID ${recordId} was not in the request. Ensure that the Lambda function returns the record IDs it received.`);
    }
    if (byId.has(recordId)) {
      return allFailed(records, LambdaErrorCode.DuplicatedRecordId, 'Multiple records were returned with the same record ID. Ensure that the Lambda function returns unique record IDs for each record.');
    }
    if (result !== 'Ok' && result !== 'Dropped' && result !== 'ProcessingFailed') return bad(`record ${recordId} has result ${JSON.stringify(result)}`);
    if (data !== undefined && data !== null && (typeof data !== 'string' || !BASE64.test(data))) return bad(`record ${recordId} has data that is not base64`);
    if (result === 'Ok' && typeof data !== 'string') return bad(`record ${recordId} is Ok but has no data`);
    const out: TransformResult = { recordId, result, ...(typeof data === 'string' ? { data } : {}) };
    if (metadata !== undefined && metadata !== null) {
      const keys = (metadata as { partitionKeys?: unknown }).partitionKeys;
      if (keys !== undefined && keys !== null) {
        if (typeof keys !== 'object' || Array.isArray(keys)) return bad(`record ${recordId} has partitionKeys that are not an object`);
        const pk: Record<string, string> = {};
        for (const [k, v] of Object.entries(keys)) {
          if (typeof v === 'string') pk[k] = v;
          else if (typeof v === 'number' || typeof v === 'boolean') pk[k] = String(v);
          else return bad(`record ${recordId} has partition key ${k} that is not a string`);
        }
        out.metadata = { partitionKeys: pk };
      }
    }
    byId.set(recordId, out);
  }
  if (byId.size !== wanted.size) {
    return allFailed(records, LambdaErrorCode.MissingRecordId, 'One or more record IDs were not returned. Ensure that the Lambda function returns all received record IDs.');
  }
  return records.map((r) => byId.get(r.recordId)!);
}

// ---------------------------------------------------------------------------------------------
// Local modules

type Handler = (event: unknown, context: unknown, callback?: (err: unknown, result?: unknown) => void) => unknown;

async function findLocalFunction(dir: string, name: string): Promise<{ path: string; mtimeMs: number } | undefined> {
  for (const ext of ['.mjs', '.js', '.cjs']) {
    const path = join(dir, `${name}${ext}`);
    try {
      const st = await stat(path);
      if (st.isFile()) return { path, mtimeMs: st.mtimeMs };
    } catch {
      // try the next extension
    }
  }
  return undefined;
}

async function loadHandler(path: string, mtimeMs: number): Promise<Handler> {
  // The query string makes a changed file a new module (import() caches by URL).
  const mod = (await import(`${pathToFileURL(path).href}?mtime=${mtimeMs}`)) as { handler?: unknown; default?: unknown };
  const h = mod.handler ?? (mod.default as { handler?: unknown } | undefined)?.handler ?? mod.default;
  if (typeof h !== 'function') throw new LambdaInvocationError(LambdaErrorCode.FunctionError, `${path} does not export a handler function`, false);
  return h as Handler;
}

async function invokeLocal(
  fn: { path: string; mtimeMs: number },
  name: string,
  functionArn: string,
  event: Record<string, unknown>,
  timeoutMs: number,
  region: string,
): Promise<unknown> {
  const handler = await loadHandler(fn.path, fn.mtimeMs);
  const deadline = Date.now() + timeoutMs;
  const requestId = randomUUID();
  const context = {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn.startsWith('arn:') ? functionArn : `arn:aws:lambda:${region}:000000000000:function:${name}`,
    memoryLimitInMB: '128',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `eddy/${requestId}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = new Promise<unknown>((resolve, reject) => {
      const callback = (err: unknown, result?: unknown): void => (err ? reject(err) : resolve(result));
      // Lambda's Node.js runtime: a handler declared with three parameters answers through the callback.
      const r = handler.length >= 3 ? handler(event, context, callback) : handler(event, context);
      if (handler.length < 3 || (r !== undefined && typeof (r as Promise<unknown>).then === 'function')) Promise.resolve(r).then(resolve, reject);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LambdaInvocationError(LambdaErrorCode.FunctionError, `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`, true)),
        timeoutMs,
      );
    });
    const result = await Promise.race([run, timeout]);
    // What a real invocation returns is the JSON the runtime serialized.
    const json = JSON.stringify(result ?? null);
    if (json.length > RESPONSE_LIMIT) {
      throw new LambdaInvocationError(LambdaErrorCode.FunctionError, `Response payload size (${json.length} bytes) exceeded maximum allowed payload size (${RESPONSE_LIMIT} bytes).`, false);
    }
    return JSON.parse(json) as unknown;
  } catch (e) {
    if (e instanceof LambdaInvocationError) throw e;
    const err = e as { name?: unknown; message?: unknown };
    const type = typeof err?.name === 'string' ? err.name : 'Error';
    const message = typeof err?.message === 'string' ? err.message : String(e);
    throw new LambdaInvocationError(LambdaErrorCode.FunctionError, `${type}: ${message}`, true);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The Invoke API

async function invokeHttp(
  endpoint: string,
  name: string,
  qualifier: string | undefined,
  event: Record<string, unknown>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const base = endpoint.replace(/\/+$/, '');
  const url = `${base}/2015-03-31/functions/${encodeURIComponent(name)}/invocations${qualifier ? `?Qualifier=${encodeURIComponent(qualifier)}` : ''}`;
  let res;
  try {
    res = await httpRequest({
      url,
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Amz-Invocation-Type': 'RequestResponse', 'X-Amz-Log-Type': 'None' },
      body: Buffer.from(JSON.stringify(event)),
      // The function may use all of its timeout; the Invoke call itself needs a little more.
      timeoutMs: timeoutMs + 10_000,
      maxResponseBytes: RESPONSE_LIMIT + 64 * 1024,
      signal,
    });
  } catch (e) {
    const msg = e instanceof HttpRequestError ? e.message : String(e);
    throw new LambdaInvocationError(LambdaErrorCode.ServiceException, `Lambda Invoke at ${base} failed: ${msg}`, true);
  }
  const text = res.body.toString('utf8');
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status >= 200 && res.status < 300) {
    const fnError = res.headers['x-amz-function-error'];
    if (fnError !== undefined) {
      const b = (body ?? {}) as { errorType?: unknown; errorMessage?: unknown };
      const type = typeof b.errorType === 'string' ? b.errorType : String(fnError);
      const message = typeof b.errorMessage === 'string' ? b.errorMessage : text;
      throw new LambdaInvocationError(LambdaErrorCode.FunctionError, `${type}: ${message}`, true);
    }
    if (body === undefined) {
      return { __notJson: true }; // checkAnswer reports it as Lambda.JsonProcessingException
    }
    return body;
  }
  const errType = String(res.headers['x-amzn-errortype'] ?? (body as { __type?: unknown; Type?: unknown } | undefined)?.__type ?? '').split(':')[0] ?? '';
  const message = `${errType || `HTTP ${res.status}`}: ${(body as { message?: unknown; Message?: unknown } | undefined)?.message ?? (body as { Message?: unknown } | undefined)?.Message ?? text}`;
  if (res.status === 404 || errType === 'ResourceNotFoundException') throw new LambdaInvocationError(LambdaErrorCode.ResourceNotFound, message, false);
  if (res.status === 429 || errType === 'TooManyRequestsException') throw new LambdaInvocationError(LambdaErrorCode.InvokeLimitExceeded, message, true);
  if (res.status === 401 || res.status === 403) throw new LambdaInvocationError(LambdaErrorCode.InvokeAccessDenied, message, false);
  throw new LambdaInvocationError(LambdaErrorCode.ServiceException, message, res.status >= 500);
}
