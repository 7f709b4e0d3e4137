import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { AwsError, errors, isAwsError } from '../core/errors.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { fastPutRecordsJson, putRecordsJsonOutput } from './fast-put-records.js';
import type { ServiceModel } from './model.js';
import { decodeInput, encodeOutput, validateInput, type WireFormat } from './shapes.js';
import { type Credentials, parseAuth, verifySigV4 } from './sigv4.js';

export type Request = IncomingMessage | Http2ServerRequest;
export type Response = ServerResponse | Http2ServerResponse;

/** Who is calling, as authentication established it. */
export interface CallerIdentity {
  readonly accountId: string;
  readonly region: string;
  readonly accessKeyId: string | undefined;
}

export interface Invocation {
  readonly service: string;
  readonly operation: string;
  readonly input: Record<string, unknown>;
  readonly caller: CallerIdentity;
  readonly requestId: string;
  readonly format: WireFormat;
  readonly signal: AbortSignal;
}

/**
 * A streamed answer (SubscribeToShard): event-stream frames written as they come, with
 * back-pressure. `frames` ends when the stream ends; the wire layer stops it when the client leaves.
 */
export class EventStreamOutput {
  constructor(
    readonly frames: AsyncIterable<Uint8Array>,
    /**
     * Fired when the stream is over for the producer (it may still hold frames the client has not
     * taken): from then on a client that does not read them within `stallMs` has its stream reset.
     */
    readonly ended?: AbortSignal,
    readonly stallMs = 5_000,
  ) {}
}

export interface ServiceBinding {
  readonly model: ServiceModel;
  /** Runs an operation whose input has been decoded, authenticated and validated. */
  readonly invoke: (inv: Invocation) => Promise<Record<string, unknown> | EventStreamOutput | undefined>;
  /** Whether the operation is served; others answer as AWS does for an unavailable feature. */
  readonly serves: (operation: string) => boolean;
}

export interface DispatchOptions {
  readonly auth: 'none' | 'sigv4';
  readonly lookupCredentials: (accessKeyId: string) => Credentials | undefined;
  readonly accountId: string;
  readonly region: string;
  readonly maxBodyBytes: number;
  readonly now: () => number;
  /** Plain GET routes (health, metrics, console). */
  readonly routes?: Readonly<Record<string, (req: Request, res: Response) => void>>;
  readonly onError?: (e: unknown, inv: { service?: string; operation?: string }) => void;
}

/**
 * Decoders for the plain JSON body of hot operations, by target: each returns the same input the
 * generic path would (after validation), or undefined to leave the body to the generic path.
 */
const FAST_JSON: Readonly<Record<string, (body: Buffer) => Record<string, unknown> | undefined>> = {
  'Kinesis_20131202.PutRecords': fastPutRecordsJson as (body: Buffer) => Record<string, unknown> | undefined,
};

/** Encoders for the JSON answers of hot operations: the generic encoder's bytes, or undefined to leave it to it. */
const FAST_JSON_OUT: Readonly<Record<string, (out: Record<string, unknown>) => Buffer | undefined>> = {
  'Kinesis_20131202.PutRecords': putRecordsJsonOutput,
};

const CONTENT_TYPES: Readonly<Record<string, WireFormat>> = {
  'application/x-amz-json-1.1': 'json',
  'application/x-amz-json-1.0': 'json',
  'application/json': 'json',
  'application/x-amz-cbor-1.1': 'cbor',
  'application/cbor': 'cbor',
};

const EXPOSED = 'x-amzn-RequestId,x-amzn-ErrorType,x-amz-id-2,Date';

const ID2_BYTES = 54;
let id2Pool = Buffer.alloc(0);
let id2At = 0;

/** x-amz-id-2: 54 random bytes in base64, as AWS sends; drawn from a pool (one syscall per ~1,200 requests). */
function extendedRequestId(): string {
  if (id2At + ID2_BYTES > id2Pool.length) {
    id2Pool = randomBytes(ID2_BYTES * 1200);
    id2At = 0;
  }
  id2At += ID2_BYTES;
  return id2Pool.toString('base64', id2At - ID2_BYTES, id2At);
}

/**
 * The AWS JSON 1.1 / CBOR 1.1 front door. Checks run in AWS's order (checklist 1.1):
 * operation, body and its types, authentication, then the model's constraints, then the operation.
 */
export function createDispatcher(services: readonly ServiceBinding[], opts: DispatchOptions) {
  const byPrefix = new Map(services.map((s) => [s.model.targetPrefix, s]));

  return function dispatch(req: Request, res: Response): void {
    const requestId = randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    res.setHeader('x-amz-id-2', extendedRequestId());
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED);
    handle(req, res, requestId).catch((e: unknown) => {
      opts.onError?.(e, {});
      if (!res.headersSent) sendError(res, 'json', errors.InternalFailureException('Internal Service Failure'));
      else res.destroy();
    });
  };

  async function handle(req: Request, res: Response, requestId: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      // CORS preflight for browser clients.
      res.writeHead(200, {
        'Access-Control-Allow-Methods': 'GET,POST,PUT,DELETE,OPTIONS',
        'Access-Control-Allow-Headers': String(req.headers['access-control-request-headers'] ?? '*'),
        'Access-Control-Max-Age': '172800',
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    const target = header(req, 'x-amz-target');
    if (method !== 'POST' || target === undefined) {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const route = opts.routes?.[path];
      if (method === 'GET' && route) return route(req, res);
      drain(req);
      if (method !== 'POST') {
        sendError(res, 'json', new AwsError('AccessDeniedException', 'Unable to determine service/operation name to be authorized', 403));
        return;
      }
    }
    const contentType = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const format: WireFormat = CONTENT_TYPES[contentType] ?? 'json';
    const dot = target?.lastIndexOf('.') ?? -1;
    const service = target !== undefined && dot > 0 ? byPrefix.get(target.slice(0, dot)) : undefined;
    const operation = target !== undefined && dot > 0 ? target.slice(dot + 1) : '';
    const opModel = service && Object.hasOwn(service.model.operations, operation) ? service.model.operations[operation] : undefined;
    if (!service || !opModel) {
      drain(req);
      sendError(res, format, errors.UnknownOperationException(''));
      return;
    }
    if (!CONTENT_TYPES[contentType]) {
      drain(req);
      sendError(res, format, errors.SerializationException(`Unsupported Content-Type: ${contentType || '(none)'}`));
      return;
    }
    const body = await readBody(req, opts.maxBodyBytes);
    if (body === 'too-large') {
      sendError(res, format, new AwsError('SerializationException', `Request body exceeds the maximum of ${opts.maxBodyBytes} bytes`, 413), true);
      return;
    }
    const tag = { service: service.model.targetPrefix, operation };
    try {
      // The plain case of a hot operation skips the generic decoder; anything else takes it.
      const fast = format === 'json' ? FAST_JSON[`${tag.service}.${operation}`]?.(body) : undefined;
      const input = fast ?? decodeInput(service.model, operation, parseBody(body, format), format);
      const caller = authenticate(req, body);
      if (fast === undefined) validateInput(service.model, operation, input);
      if (!service.serves(operation)) {
        throw errors.UnknownOperationException(`${operation} is not available on this endpoint.`);
      }
      // The abort signal is made when an operation asks for it (SubscribeToShard): most never do.
      let ac: AbortController | undefined;
      let gone = false;
      const onClose = () => {
        gone = true;
        ac?.abort();
      };
      const controller = (): AbortController => {
        if (ac === undefined) {
          ac = new AbortController();
          if (gone) ac.abort();
        }
        return ac;
      };
      res.once('close', onClose);
      const out = await service.invoke({
        service: tag.service,
        operation,
        input,
        caller,
        requestId,
        format,
        get signal() {
          return controller().signal;
        },
      });
      if (out instanceof EventStreamOutput) {
        await pipeEvents(res, out, controller());
        return;
      }
      res.off('close', onClose);
      const fastOut = format === 'json' && out !== undefined ? FAST_JSON_OUT[`${tag.service}.${operation}`]?.(out) : undefined;
      const payload = fastOut ?? encodeOutput(service.model, operation, out, format);
      res.writeHead(200, { 'Content-Type': contentTypeOf(format), 'Content-Length': String(payload.length) });
      res.end(payload);
    } catch (e) {
      if (isAwsError(e)) {
        if (e.status >= 500) opts.onError?.(e, tag);
        sendError(res, format, e);
        return;
      }
      opts.onError?.(e, tag);
      sendError(res, format, errors.InternalFailureException('Internal Service Failure'));
    }
  }

  /** Who signed the request; with auth none, only the shape of a signature is checked if one is there. */
  function authenticate(req: Request, body: Buffer): CallerIdentity {
    const signed = {
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      headers: req.headers as Record<string, string | string[] | undefined>,
      body,
    };
    if (opts.auth === 'sigv4') {
      const creds = verifySigV4(signed, opts.lookupCredentials, opts.now());
      const info = parseAuth(signed);
      return { accountId: creds.accountId, region: info.region ?? opts.region, accessKeyId: creds.accessKeyId };
    }
    // Unsigned (no Authorization header, no presigned query): welcome, without building the error.
    if (!req.headers.authorization && !(req.url ?? '').includes('X-Amz-Algorithm')) {
      return { accountId: opts.accountId, region: opts.region, accessKeyId: undefined };
    }
    let info;
    try {
      info = parseAuth(signed);
    } catch (e) {
      // Unsigned requests are welcome without auth; malformed signatures still are not.
      if (isAwsError(e) && e.type === 'MissingAuthenticationTokenException') {
        return { accountId: opts.accountId, region: opts.region, accessKeyId: undefined };
      }
      throw e;
    }
    return { accountId: opts.accountId, region: info.region ?? opts.region, accessKeyId: info.accessKeyId };
  }
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function contentTypeOf(format: WireFormat): string {
  return format === 'cbor' ? 'application/x-amz-cbor-1.1' : 'application/x-amz-json-1.1';
}

function parseBody(body: Buffer, format: WireFormat): unknown {
  if (body.length === 0) throw errors.SerializationException('Start of structure or map found where not expected.');
  if (format === 'cbor') {
    try {
      return decodeCbor(body);
    } catch (e) {
      throw errors.SerializationException(`Malformed CBOR: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw errors.SerializationException('Start of structure or map found where not expected.');
  }
}

export function sendError(res: Response, format: WireFormat, e: AwsError, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: Record<string, unknown> = { __type: e.type, message: e.message, ...(e.extra ?? {}) };
  const payload = format === 'cbor' ? encodeCbor(body) : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    'Content-Type': contentTypeOf(format),
    'Content-Length': String(payload.length),
    'x-amzn-ErrorType': e.type,
  };
  // HTTP/1.1 only: refuse the rest of an oversized body by closing the connection.
  if (close && 'socket' in res && !('stream' in res)) headers.Connection = 'close';
  res.writeHead(e.status, headers);
  res.end(payload);
}

/** Reads the body, refusing (without reading it whole) anything over the limit. */
function readBody(req: Request, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(header(req, 'content-length') ?? NaN);
  if (declared > limit) {
    req.pause();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (e) => {
      if (!done) reject(e);
    });
    req.on('aborted', () => {
      if (!done) reject(new Error('request aborted'));
    });
  });
}

function drain(req: Request): void {
  req.resume();
}

async function pipeEvents(res: Response, out: EventStreamOutput, ac: AbortController): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/vnd.amazon.eventstream' });
  const it = out.frames[Symbol.asyncIterator]();
  // Once the stream is over, a client that stops reading gets `stallMs` to take the rest, then
  // its stream is reset (the 'close' that follows aborts `ac`, which ends the wait for 'drain').
  let stall: NodeJS.Timeout | undefined;
  const arm = () => {
    stall ??= setTimeout(() => {
      // HTTP/2: RST_STREAM(CANCEL), which a client drops at once (a plain destroy sends NO_ERROR,
      // which a paused client would hold until it reads); HTTP/1.1: the connection goes.
      if ('stream' in res) res.stream.close(http2.constants.NGHTTP2_CANCEL);
      else res.destroy();
    }, out.stallMs);
    stall.unref();
  };
  out.ended?.addEventListener('abort', arm, { once: true });
  res.once('close', () => {
    clearTimeout(stall);
    out.ended?.removeEventListener('abort', arm);
  });
  try {
    for (;;) {
      if (ac.signal.aborted) break;
      const { value, done } = await it.next();
      if (done) break;
      if (!(res as ServerResponse).write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go);
            ac.signal.removeEventListener('abort', go);
            resolve();
          };
          res.on('drain', go);
          ac.signal.addEventListener('abort', go, { once: true });
        });
      }
    }
  } finally {
    await it.return?.();
    if (!ac.signal.aborted) {
      arm();
      res.end();
    }
  }
}
