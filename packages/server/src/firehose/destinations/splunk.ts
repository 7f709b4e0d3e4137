/**
 * Splunk HTTP Event Collector delivery (checklist 4.4; AWS "Splunk data delivery errors").
 *
 * What Eddy does:
 * - HECEndpointType Raw: one POST to `<HECEndpoint>/services/collector/raw` with the batch's
 *   records concatenated as they are (Firehose "concatenates the bytes that you send").
 * - HECEndpointType Event: one POST to `<HECEndpoint>/services/collector/event` with one HEC
 *   event per record, concatenated. A record that already is a HEC event (a JSON object with an
 *   `event` member) is sent as it is; any other record is wrapped as `{"event": <record>}`, the
 *   record's JSON value when it is JSON, else its text (without a trailing newline).
 * - Headers `Authorization: Splunk <HECToken>` and `X-Splunk-Request-Channel`, a channel id fixed
 *   per delivery stream (indexer acknowledgment needs one).
 * - Indexer acknowledgment: when HEC answers with an `ackId`, Eddy polls
 *   `/services/collector/ack` with `{"acks":[id]}` every second until it reports true or
 *   HECAcknowledgmentTimeoutInSeconds (default 180) passes (Splunk.AckTimeout). When
 *   HECAcknowledgmentTimeoutInSeconds is configured, an answer without ackId is
 *   Splunk.DisabledAck, as on AWS; when it is not, a plain 200 counts as delivered (AWS always
 *   wants acknowledgments; Eddy lets a development HEC without them work).
 * - HEC error codes map to Firehose's: 1 Splunk.DisabledToken, 2-4 Splunk.InvalidToken,
 *   5-6 Splunk.InvalidDataFormat, 7 Splunk.InvalidIndex, 8-9 and other 5xx Splunk.ServerError,
 *   10-11 Splunk.ProxyWithoutStickySessions (channel errors), 14 Splunk.DisabledAck; connection
 *   problems Splunk.InvalidEndpoint / ConnectionTimeout / ConnectionClosed / SSLHandshake.
 * - Every failure is retried until RetryOptions.DurationInSeconds (default 3600 s) has passed
 *   ("Any data delivery error triggers the retry logic"), each retry a new POST and a new ack wait.
 */
import { createHash } from 'node:crypto';
import { JsonSyntaxError, parseJsonLossless, stringifyJson } from '../json-lossless.js';
import { DeliveryError } from './errors.js';
import { httpRequest, HttpRequestError, type HttpResponse } from './http-client.js';
import { type DeliveryMeta, requiredString, retryDurationMs, systemClock, withRetries } from './retry.js';

export interface SplunkDestinationConfig {
  HECEndpoint: string;
  HECEndpointType: 'Raw' | 'Event';
  HECToken?: string;
  HECAcknowledgmentTimeoutInSeconds?: number;
  RetryOptions?: { DurationInSeconds?: number };
}

export const SplunkErrorCode = {
  DisabledToken: 'Splunk.DisabledToken',
  InvalidToken: 'Splunk.InvalidToken',
  InvalidDataFormat: 'Splunk.InvalidDataFormat',
  InvalidIndex: 'Splunk.InvalidIndex',
  ServerError: 'Splunk.ServerError',
  DisabledAck: 'Splunk.DisabledAck',
  AckTimeout: 'Splunk.AckTimeout',
  ProxyWithoutStickySessions: 'Splunk.ProxyWithoutStickySessions',
  InvalidEndpoint: 'Splunk.InvalidEndpoint',
  ConnectionTimeout: 'Splunk.ConnectionTimeout',
  ConnectionClosed: 'Splunk.ConnectionClosed',
  SSLHandshake: 'Splunk.SSLHandshake',
} as const;

const REQUEST_TIMEOUT_MS = 180_000;
const ACK_POLL_MS = 1000;
const DEFAULT_ACK_TIMEOUT_S = 180;

/** The HEC URL for an endpoint type, whether HECEndpoint is a base URL or already a collector path. */
export function hecUrl(endpoint: string, type: 'Raw' | 'Event' | 'Ack'): string {
  const u = new URL(endpoint);
  let path = u.pathname.replace(/\/+$/, '');
  path = path.replace(/\/services\/collector(\/(raw|event|ack)(\/1\.0)?)?$/, '');
  u.pathname = `${path}/services/collector/${type.toLowerCase()}`;
  return u.toString();
}

/** A stable channel id (UUID form) per delivery stream. */
export function splunkChannel(deliveryStreamArn: string): string {
  const h = createHash('sha256').update(deliveryStreamArn).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The HEC event for one record (Event endpoint). */
export function hecEvent(record: Buffer): string {
  const text = record.toString('utf8');
  try {
    const v = parseJsonLossless(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, 'event')) return stringifyJson(v);
    return stringifyJson({ event: v });
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return JSON.stringify({ event: text.replace(/\r?\n$/, '') });
  }
}

export async function deliverSplunk(config: SplunkDestinationConfig | Readonly<Record<string, unknown>>, records: readonly Buffer[], meta: DeliveryMeta): Promise<void> {
  const c = config as Readonly<Record<string, unknown>>;
  const endpoint = requiredString(c, 'HECEndpoint', SplunkErrorCode.InvalidEndpoint);
  const cfg = config as SplunkDestinationConfig;
  const type = cfg.HECEndpointType === 'Event' ? 'Event' : 'Raw';
  if (records.length === 0) return;
  let url: string;
  let ackUrl: string;
  try {
    url = hecUrl(endpoint, type);
    ackUrl = hecUrl(endpoint, 'Ack');
  } catch {
    throw new DeliveryError(SplunkErrorCode.InvalidEndpoint, `HECEndpoint '${endpoint}' is not a URL`, false);
  }
  const body = type === 'Raw' ? Buffer.concat(records) : Buffer.from(records.map((r) => hecEvent(r)).join('\n'));
  const channel = splunkChannel(meta.deliveryStreamArn);
  const headers: Record<string, string> = {
    Authorization: `Splunk ${cfg.HECToken ?? ''}`,
    'X-Splunk-Request-Channel': channel,
    'Content-Type': type === 'Raw' ? 'text/plain; charset=utf-8' : 'application/json',
  };
  const ackRequired = typeof cfg.HECAcknowledgmentTimeoutInSeconds === 'number';
  const ackTimeoutMs = (cfg.HECAcknowledgmentTimeoutInSeconds ?? DEFAULT_ACK_TIMEOUT_S) * 1000;
  const clock = meta.clock ?? systemClock;

  await withRetries(meta, retryDurationMs(cfg, meta, 3600), async () => {
    const res = await send(url, headers, body, meta);
    const answer = parse(res);
    if (res.status !== 200) throw hecError(res.status, answer);
    const ackId = answer?.ackId;
    if (typeof ackId !== 'number') {
      if (ackRequired) {
        throw new DeliveryError(SplunkErrorCode.DisabledAck, 'Indexer acknowledgement is disabled for the HEC token. Enable indexer acknowledgement and try again.', true);
      }
      return;
    }
    const deadline = clock.now() + ackTimeoutMs;
    for (;;) {
      const ack = await send(`${ackUrl}?channel=${encodeURIComponent(channel)}`, { ...headers, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify({ acks: [ackId] })), meta);
      const a = parse(ack);
      if (ack.status !== 200) throw hecError(ack.status, a);
      if ((a?.acks as Record<string, unknown> | undefined)?.[String(ackId)] === true) return;
      if (clock.now() + ACK_POLL_MS > deadline) {
        throw new DeliveryError(
          SplunkErrorCode.AckTimeout,
          "Did not receive an acknowledgement from HEC before the HEC acknowledgement timeout expired. Despite the acknowledgement timeout, it's possible the data was indexed successfully in Splunk. Kinesis Firehose backs up in Amazon S3 data for which the acknowledgement timeout expired.",
          true,
        );
      }
      await clock.sleep(ACK_POLL_MS, meta.signal);
    }
  });
}

async function send(url: string, headers: Record<string, string>, body: Buffer, meta: DeliveryMeta): Promise<HttpResponse> {
  try {
    return await httpRequest({ url, method: 'POST', headers, body, timeoutMs: meta.timeoutMs ?? REQUEST_TIMEOUT_MS, maxResponseBytes: 1024 * 1024, signal: meta.signal });
  } catch (e) {
    if (!(e instanceof HttpRequestError)) throw e;
    const code = {
      timeout: SplunkErrorCode.ConnectionTimeout,
      refused: SplunkErrorCode.InvalidEndpoint,
      dns: SplunkErrorCode.InvalidEndpoint,
      reset: SplunkErrorCode.ConnectionClosed,
      aborted: SplunkErrorCode.ConnectionClosed,
      tls: SplunkErrorCode.SSLHandshake,
      'too-large': SplunkErrorCode.ServerError,
      other: SplunkErrorCode.InvalidEndpoint,
    }[e.failure];
    throw new DeliveryError(code, `Splunk HEC ${url}: ${e.message}`, e.failure !== 'aborted', { cause: e });
  }
}

function parse(res: HttpResponse): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(res.body.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hecError(status: number, answer: Record<string, unknown> | undefined): DeliveryError {
  const code = typeof answer?.code === 'number' ? answer.code : undefined;
  const text = typeof answer?.text === 'string' ? answer.text : `HTTP ${status}`;
  let errorCode: string;
  switch (code) {
    case 1:
      errorCode = SplunkErrorCode.DisabledToken;
      break;
    case 2:
    case 3:
    case 4:
      errorCode = SplunkErrorCode.InvalidToken;
      break;
    case 5:
    case 6:
      errorCode = SplunkErrorCode.InvalidDataFormat;
      break;
    case 7:
      errorCode = SplunkErrorCode.InvalidIndex;
      break;
    case 10:
    case 11:
      errorCode = SplunkErrorCode.ProxyWithoutStickySessions;
      break;
    case 14:
      errorCode = SplunkErrorCode.DisabledAck;
      break;
    default:
      errorCode = status === 401 || status === 403 ? SplunkErrorCode.InvalidToken : SplunkErrorCode.ServerError;
  }
  return new DeliveryError(errorCode, `Splunk HEC answered ${status}${code !== undefined ? ` (code ${code})` : ''}: ${text}`, true);
}
