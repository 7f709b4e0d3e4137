/**
 * The HTTP endpoint destination with Firehose's delivery request/response contract (checklist
 * 4.8; AWS "HTTP endpoint delivery request and response specifications"):
 *
 * - POST to EndpointConfiguration.Url with `X-Amz-Firehose-Protocol-Version: 1.0`,
 *   `X-Amz-Firehose-Request-Id` (the same on every retry), `X-Amz-Firehose-Source-Arn`,
 *   `X-Amz-Firehose-Access-Key` (AccessKey verbatim, when set), `X-Amz-Firehose-Common-Attributes`
 *   (`{"commonAttributes":{...}}` from RequestConfiguration.CommonAttributes),
 *   `Content-Type: application/json`, and `Content-Encoding: gzip` with the body gzipped when
 *   RequestConfiguration.ContentEncoding is GZIP;
 * - body `{"requestId", "timestamp" (epoch ms), "records": [{"data": base64}]}`, at most 10 000
 *   records and 64 MiB before compression per request (a larger batch goes as several requests,
 *   each with its own request id);
 * - success is exactly: status 200, a JSON body (`application/json`, at most 1 MiB) whose
 *   requestId is the one sent; anything else counts as a 500 and is retried; 413 is a permanent
 *   failure whose records are not sent to the error output; redirects are not followed;
 * - retries for RetryOptions.DurationInSeconds (default 300 s) with 1 s doubling back-off, ±15%
 *   jitter, at most 2 minutes, each attempt waiting up to 3 minutes for the response.
 *
 * AWS only accepts https URLs on port 443; Eddy sends to whatever URL it is given (its
 * CreateDeliveryStream decides what to accept).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { DeliveryError } from './errors.js';
import { httpRequest, HttpRequestError } from './http-client.js';
import { type DeliveryMeta, requiredString, retryDurationMs, withRetries } from './retry.js';

export interface HttpEndpointDestinationConfig {
  EndpointConfiguration: { Url: string; Name?: string; AccessKey?: string };
  RequestConfiguration?: {
    ContentEncoding?: 'NONE' | 'GZIP';
    CommonAttributes?: readonly { AttributeName: string; AttributeValue: string }[];
  };
  RetryOptions?: { DurationInSeconds?: number };
}

export const HttpEndpointErrorCode = {
  DestinationException: 'HttpEndpoint.DestinationException',
  InvalidResponseFromDestination: 'HttpEndpoint.InvalidResponseFromDestination',
  ResponseTooLarge: 'HttpEndpoint.ResponseTooLarge',
  RequestEntityTooLarge: 'HttpEndpoint.RequestEntityTooLarge',
  RequestTimeout: 'HttpEndpoint.RequestTimeout',
  ConnectionFailed: 'HttpEndpoint.ConnectionFailed',
  ConnectionReset: 'HttpEndpoint.ConnectionReset',
  SSLHandshakeFailure: 'HttpEndpoint.SSLHandshakeFailure',
  InvalidConfiguration: 'HttpEndpoint.InvalidConfiguration',
} as const;

const MAX_RECORDS = 10_000;
const MAX_BODY = 64 * 1024 * 1024;
const MAX_RESPONSE = 1024 * 1024;
const RESPONSE_TIMEOUT_MS = 180_000;

export async function deliverHttpEndpoint(
  config: HttpEndpointDestinationConfig | Readonly<Record<string, unknown>>,
  records: readonly Buffer[],
  meta: DeliveryMeta,
): Promise<void> {
  const c = config as Readonly<Record<string, unknown>>;
  const url = requiredString(c, 'EndpointConfiguration.Url', HttpEndpointErrorCode.InvalidConfiguration);
  const cfg = config as HttpEndpointDestinationConfig;
  const accessKey = cfg.EndpointConfiguration.AccessKey;
  const gzip = cfg.RequestConfiguration?.ContentEncoding === 'GZIP';
  const common: Record<string, string> = {};
  for (const a of cfg.RequestConfiguration?.CommonAttributes ?? []) common[a.AttributeName] = a.AttributeValue;
  const durationMs = retryDurationMs(cfg, meta, 300);

  const chunks = splitRecords(records);
  for (let i = 0; i < chunks.length; i++) {
    const requestId = i === 0 ? meta.requestId : derivedRequestId(meta.requestId, i);
    const json = Buffer.from(
      JSON.stringify({ requestId, timestamp: meta.timestampMs, records: chunks[i]!.map((r) => ({ data: r.toString('base64') })) }),
    );
    const body = gzip ? gzipSync(json) : json;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'X-Amz-Firehose-Protocol-Version': '1.0',
      'X-Amz-Firehose-Request-Id': requestId,
      'X-Amz-Firehose-Source-Arn': meta.deliveryStreamArn,
      'X-Amz-Firehose-Common-Attributes': JSON.stringify({ commonAttributes: common }),
      'User-Agent': 'Amazon Kinesis Data Firehose Agent/1.0 (Eddy)',
    };
    if (accessKey !== undefined && accessKey !== '') headers['X-Amz-Firehose-Access-Key'] = accessKey;
    if (gzip) headers['Content-Encoding'] = 'gzip';
    await withRetries(meta, durationMs, () => attempt(url, headers, body, requestId, meta));
  }
}

/** Requests of at most 10 000 records and 64 MiB of JSON each. */
function splitRecords(records: readonly Buffer[]): Buffer[][] {
  const out: Buffer[][] = [];
  let cur: Buffer[] = [];
  let size = 0;
  for (const r of records) {
    const enc = Math.ceil(r.length / 3) * 4 + 12;
    if (cur.length > 0 && (cur.length >= MAX_RECORDS || size + enc > MAX_BODY - 256)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(r);
    size += enc;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** A UUID-formatted id for the n-th request of a batch that needed several. */
function derivedRequestId(requestId: string, n: number): string {
  const h = createHash('sha256').update(`${requestId}/${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function attempt(url: string, headers: Record<string, string>, body: Buffer, requestId: string, meta: DeliveryMeta): Promise<void> {
  let res;
  try {
    res = await httpRequest({ url, method: 'POST', headers, body, timeoutMs: meta.timeoutMs ?? RESPONSE_TIMEOUT_MS, maxResponseBytes: MAX_RESPONSE, signal: meta.signal });
  } catch (e) {
    if (!(e instanceof HttpRequestError)) throw e;
    const code = {
      timeout: HttpEndpointErrorCode.RequestTimeout,
      refused: HttpEndpointErrorCode.ConnectionFailed,
      dns: HttpEndpointErrorCode.ConnectionFailed,
      reset: HttpEndpointErrorCode.ConnectionReset,
      tls: HttpEndpointErrorCode.SSLHandshakeFailure,
      'too-large': HttpEndpointErrorCode.ResponseTooLarge,
      aborted: HttpEndpointErrorCode.ConnectionReset,
      other: HttpEndpointErrorCode.ConnectionFailed,
    }[e.failure];
    throw new DeliveryError(code, `Delivery to the HTTP endpoint ${url} failed: ${e.message}`, e.failure !== 'aborted', { cause: e });
  }
  const text = res.body.toString('utf8');
  const received = `Received the following response from the endpoint destination. ${res.status}: ${text.slice(0, 8192)}`;
  if (res.status === 413) {
    throw new DeliveryError(HttpEndpointErrorCode.RequestEntityTooLarge, received, false, { routeToErrorOutput: false });
  }
  if (res.status !== 200) throw new DeliveryError(HttpEndpointErrorCode.DestinationException, received, true);
  const type = String(res.headers['content-type'] ?? '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const answeredId = (parsed as { requestId?: unknown } | undefined)?.requestId;
  if (!/^application\/json\b/i.test(type) || res.headers['content-encoding'] !== undefined || answeredId !== requestId) {
    const why = !/^application\/json\b/i.test(type)
      ? `Content-Type is '${type}', not application/json`
      : res.headers['content-encoding'] !== undefined
        ? 'the response has a Content-Encoding'
        : answeredId === undefined
          ? 'the response body has no requestId'
          : `the response requestId ${JSON.stringify(answeredId)} is not ${requestId}`;
    throw new DeliveryError(HttpEndpointErrorCode.InvalidResponseFromDestination, `The response from the endpoint is invalid: ${why}. ${received}`, true);
  }
}
