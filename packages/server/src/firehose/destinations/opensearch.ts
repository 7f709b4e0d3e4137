/**
 * OpenSearch / Elasticsearch delivery through the _bulk API, for
 * AmazonopensearchserviceDestinationConfiguration, ElasticsearchDestinationConfiguration and
 * AmazonOpenSearchServerlessDestinationConfiguration (checklist 4.4; AWS "Index rotation for the
 * OpenSearch Service destination").
 *
 * - The cluster: ClusterEndpoint (or CollectionEndpoint for Serverless). A DomainARN alone names
 *   an AWS domain Eddy cannot reach, and fails as OS.ConfigurationError. Credentials in the URL
 *   become Basic authorization (no SigV4 signing).
 * - One `POST <endpoint>/_bulk` (application/x-ndjson) per attempt: per record
 *   `{"index":{"_index":<index>,"_type"?:<TypeName>,"_id"?:<id>}}` then the record as one line.
 *   A record spanning lines is re-serialized on one line when it is JSON; otherwise it fails
 *   before sending (it would break the NDJSON framing of the others).
 * - Index: IndexName plus the IndexRotationPeriod suffix of the record's arrival time (UTC):
 *   OneHour -YYYY-MM-DD-HH, OneDay -YYYY-MM-DD, OneWeek -YYYY-wWW, OneMonth -YYYY-MM.
 * - _id: DocumentIdOptions.DefaultDocumentIdFormat FIREHOSE_DEFAULT (the default) gives every
 *   record an id that stays the same across retries (`meta.documentIds`, else
 *   `<requestId>-<n>`), so a retried bulk does not index twice; NO_DOCUMENT_ID lets the cluster
 *   choose.
 * - Bulk items that fail with 429 or 5xx are sent again (only they) until RetryOptions'
 *   duration (default 300 s) runs out; other item failures (mapping errors, ...) are final at once.
 *   Then the call rejects with a BulkDeliveryError naming each failed record (index in the batch,
 *   status, error, index name, document id) for the error output. A whole request that fails
 *   (connection, 5xx, 429) is retried the same way; a 4xx one fails as OS.* at once.
 */
import { JsonSyntaxError, parseJsonLossless, stringifyJson } from '../json-lossless.js';
import { BulkDeliveryError, DeliveryError, type DocumentFailure } from './errors.js';
import { httpRequest, HttpRequestError } from './http-client.js';
import { backoffMs, type DeliveryMeta, retryDurationMs, systemClock } from './retry.js';

export type IndexRotationPeriod = 'NoRotation' | 'OneHour' | 'OneDay' | 'OneWeek' | 'OneMonth';

export interface OpenSearchDestinationConfig {
  ClusterEndpoint?: string;
  CollectionEndpoint?: string;
  DomainARN?: string;
  IndexName: string;
  TypeName?: string;
  IndexRotationPeriod?: IndexRotationPeriod;
  DocumentIdOptions?: { DefaultDocumentIdFormat?: 'FIREHOSE_DEFAULT' | 'NO_DOCUMENT_ID' };
  RetryOptions?: { DurationInSeconds?: number };
}

export const OpenSearchErrorCode = {
  ConfigurationError: 'OS.ConfigurationError',
  ConnectionFailed: 'OS.ConnectionFailed',
  RequestTimeout: 'OS.RequestTimeout',
  AccessDenied: 'OS.AccessDenied',
  ResourceNotFound: 'OS.ResourceNotFound',
  BadRequest: 'OS.BadRequest',
  ServerError: 'OS.ServerError',
  InvalidBulkResponse: 'OS.InvalidBulkResponse',
  InvalidDocument: 'OS.InvalidDocument',
} as const;

const REQUEST_TIMEOUT_MS = 180_000;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * US week numbering (AWS: "a week starts on Sunday; the first week of the year is the first week
 * that contains a Saturday in this year"), with the week's year: the year of its Saturday.
 */
export function usWeek(ms: number): { year: number; week: number } {
  const day = Math.floor(ms / 86_400_000);
  const sunday = day - ((day + 4) % 7 + 7) % 7; // 1970-01-01 was a Thursday (day 4)
  const year = new Date((sunday + 6) * 86_400_000).getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1) / 86_400_000;
  const firstSunday = jan1 - ((jan1 + 4) % 7 + 7) % 7;
  return { year, week: (sunday - firstSunday) / 7 + 1 };
}

/** IndexName with the rotation suffix for a record that arrived at `timestampMs`. */
export function rotatedIndexName(indexName: string, period: IndexRotationPeriod | undefined, timestampMs: number): string {
  const d = new Date(timestampMs);
  const y = d.getUTCFullYear();
  const m = pad(d.getUTCMonth() + 1);
  const dd = pad(d.getUTCDate());
  switch (period ?? 'NoRotation') {
    case 'OneHour':
      return `${indexName}-${y}-${m}-${dd}-${pad(d.getUTCHours())}`;
    case 'OneDay':
      return `${indexName}-${y}-${m}-${dd}`;
    case 'OneWeek': {
      const w = usWeek(timestampMs);
      return `${indexName}-${w.year}-w${pad(w.week)}`;
    }
    case 'OneMonth':
      return `${indexName}-${y}-${m}`;
    default:
      return indexName;
  }
}

interface Doc {
  index: number;
  action: string;
  source: string;
  indexName: string;
  documentId: string | undefined;
}

export async function deliverOpenSearch(config: OpenSearchDestinationConfig | Readonly<Record<string, unknown>>, records: readonly Buffer[], meta: DeliveryMeta): Promise<void> {
  const cfg = config as OpenSearchDestinationConfig;
  const endpoint = cfg.ClusterEndpoint ?? cfg.CollectionEndpoint;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new DeliveryError(
      OpenSearchErrorCode.ConfigurationError,
      cfg.DomainARN ? `Eddy cannot reach the domain ${cfg.DomainARN}: configure ClusterEndpoint with the cluster's URL` : 'the destination has no ClusterEndpoint',
      false,
    );
  }
  if (typeof cfg.IndexName !== 'string' || cfg.IndexName === '') throw new DeliveryError(OpenSearchErrorCode.ConfigurationError, 'the destination has no IndexName', false);
  const bulkUrl = `${endpoint.replace(/\/+$/, '')}/_bulk`;
  const withIds = cfg.DocumentIdOptions?.DefaultDocumentIdFormat !== 'NO_DOCUMENT_ID';
  const typeName = cfg.TypeName ? cfg.TypeName : undefined;

  const final: DocumentFailure[] = [];
  let pending: Doc[] = [];
  records.forEach((r, i) => {
    const indexName = rotatedIndexName(cfg.IndexName, cfg.IndexRotationPeriod, meta.arrivalTimestamps?.[i] ?? meta.timestampMs);
    const documentId = withIds ? (meta.documentIds?.[i] ?? `${meta.requestId}-${i}`) : undefined;
    const source = oneLine(r);
    if (source === undefined) {
      final.push({ index: i, status: 400, errorCode: '400', errorMessage: 'the record is not a single-line JSON document', indexName, typeName, documentId });
      return;
    }
    const target: Record<string, string> = { _index: indexName };
    if (typeName !== undefined) target._type = typeName;
    if (documentId !== undefined) target._id = documentId;
    pending.push({ index: i, action: JSON.stringify({ index: target }), source, indexName, documentId });
  });

  const clock = meta.clock ?? systemClock;
  const durationMs = retryDurationMs(cfg, meta, 300);
  const start = clock.now();
  let attempts = 0;
  let lastError: DeliveryError | undefined;
  while (pending.length > 0) {
    attempts++;
    let retryLater: Doc[] = [];
    let retryable: DocumentFailure[] = [];
    try {
      const result = await bulk(bulkUrl, pending, meta);
      lastError = undefined;
      result.forEach((item, k) => {
        const d = pending[k]!;
        if (item.status < 300) return;
        const f: DocumentFailure = {
          index: d.index,
          status: item.status,
          errorCode: String(item.status),
          errorMessage: item.error,
          indexName: d.indexName,
          typeName,
          documentId: d.documentId,
        };
        if (item.status === 429 || item.status >= 500) {
          retryLater.push(d);
          retryable.push(f);
        } else final.push(f);
      });
    } catch (e) {
      if (!(e instanceof DeliveryError)) throw e;
      lastError = e;
      if (!e.retryable) {
        e.attemptsMade = attempts;
        throw e;
      }
      retryLater = pending;
      retryable = [];
    }
    pending = retryLater;
    if (pending.length === 0) break;
    const wait = backoffMs(attempts - 1, 120_000);
    if (clock.now() + wait - start >= durationMs || meta.signal?.aborted) {
      if (lastError !== undefined && final.length === 0 && pending.length === records.length) {
        lastError.attemptsMade = attempts;
        throw lastError;
      }
      final.push(
        ...(retryable.length > 0
          ? retryable
          : pending.map((d) => ({
              index: d.index,
              status: 503,
              errorCode: lastError?.errorCode ?? '503',
              errorMessage: lastError?.message ?? 'not delivered before the retry duration ended',
              indexName: d.indexName,
              typeName,
              documentId: d.documentId,
            }))),
      );
      break;
    }
    await clock.sleep(wait, meta.signal);
  }
  if (final.length > 0) throw new BulkDeliveryError(final.sort((a, b) => a.index - b.index), attempts);
}

/** The record as one NDJSON line, or undefined when it cannot be one. */
function oneLine(r: Buffer): string | undefined {
  const text = r.toString('utf8').replace(/[\r\n]+$/, '');
  if (text === '') return undefined;
  if (!/[\r\n]/.test(text)) return text;
  try {
    return stringifyJson(parseJsonLossless(text));
  } catch (e) {
    if (e instanceof JsonSyntaxError) return undefined;
    throw e;
  }
}

async function bulk(url: string, docs: readonly Doc[], meta: DeliveryMeta): Promise<{ status: number; error: string }[]> {
  const body = Buffer.from(docs.map((d) => `${d.action}\n${d.source}\n`).join(''));
  let res;
  try {
    res = await httpRequest({ url, method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body, timeoutMs: meta.timeoutMs ?? REQUEST_TIMEOUT_MS, signal: meta.signal });
  } catch (e) {
    if (!(e instanceof HttpRequestError)) throw e;
    throw new DeliveryError(
      e.failure === 'timeout' ? OpenSearchErrorCode.RequestTimeout : OpenSearchErrorCode.ConnectionFailed,
      `bulk request to ${url} failed: ${e.message}`,
      e.failure !== 'aborted',
      { cause: e },
    );
  }
  const text = res.body.toString('utf8');
  if (res.status !== 200) {
    const msg = `bulk request to ${url} answered ${res.status}: ${text.slice(0, 2000)}`;
    if (res.status === 429 || res.status >= 500) throw new DeliveryError(OpenSearchErrorCode.ServerError, msg, true);
    if (res.status === 401 || res.status === 403) throw new DeliveryError(OpenSearchErrorCode.AccessDenied, msg, false);
    if (res.status === 404) throw new DeliveryError(OpenSearchErrorCode.ResourceNotFound, msg, false);
    throw new DeliveryError(OpenSearchErrorCode.BadRequest, msg, false);
  }
  let parsed: { items?: unknown };
  try {
    parsed = JSON.parse(text) as { items?: unknown };
  } catch {
    throw new DeliveryError(OpenSearchErrorCode.InvalidBulkResponse, `bulk response is not JSON: ${text.slice(0, 200)}`, true);
  }
  const items = parsed.items;
  if (!Array.isArray(items) || items.length !== docs.length) {
    throw new DeliveryError(OpenSearchErrorCode.InvalidBulkResponse, `bulk response has ${Array.isArray(items) ? items.length : 'no'} items for ${docs.length} documents`, true);
  }
  return items.map((it: unknown) => {
    const op = (it as Record<string, { status?: unknown; error?: unknown }> | null)?.index ?? Object.values((it as object | null) ?? {})[0];
    const status = typeof op?.status === 'number' ? op.status : 500;
    const error = op?.error === undefined ? '' : typeof op.error === 'string' ? op.error : JSON.stringify(op.error);
    return { status, error };
  });
}
