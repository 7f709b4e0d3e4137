/**
 * Data processing between the buffer log and the destination buffers (checklist 4.7): KPL
 * de-aggregation of Kinesis-sourced records, the Decompression, CloudWatchLogProcessing,
 * RecordDeAggregation, Lambda, MetadataExtraction and AppendDelimiterToRecord processors, in that
 * order whatever order the configuration lists them in (the order Firehose documents: a record is
 * decompressed and de-aggregated before a Lambda sees it, and the delimiter is added last).
 *
 * Every source record yields outputs: records to deliver (with their partition keys), or failures
 * bound for the error output (`processing-failed`), or nothing (Dropped).
 */
import { createHash, randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { Components, JqProgram, TransformRecord, TransformResult } from './components.js';
import { enabledProcessors } from './config.js';
import type { ErrorOutputType } from './prefix.js';
import type { KinesisRecordMetadata, ProcessingConfiguration } from './types.js';
import { MiB } from './types.js';

/** A record read back from the buffer log. */
export interface SourceRecord {
  readonly position: bigint;
  readonly arrivalMs: number;
  readonly data: Buffer;
  readonly kinesis?: KinesisRecordMetadata | undefined;
}

export type Output =
  | {
      readonly kind: 'ok';
      readonly source: SourceRecord;
      readonly data: Buffer;
      readonly queryKeys?: Readonly<Record<string, string>> | undefined;
      readonly lambdaKeys?: Readonly<Record<string, string>> | undefined;
    }
  | { readonly kind: 'failed'; readonly source: SourceRecord; readonly errorType: ErrorOutputType; readonly doc: Readonly<Record<string, unknown>> };

export interface ProcessingContext {
  readonly deliveryStreamArn: string;
  readonly region: string;
  readonly sourceKinesisStreamArn?: string | undefined;
  readonly components: Components;
  readonly now: () => number;
  /** Seconds spent per processor invocation, and its outcome (ExecuteProcessing.*, JQProcessing.Duration). */
  readonly observe: (what: 'lambda' | 'jq', seconds: number, ok: boolean) => void;
}

/** A record on its way through the processors. */
interface Working {
  readonly source: SourceRecord;
  data: Buffer;
  queryKeys?: Record<string, string>;
  lambdaKeys?: Record<string, string>;
  subsequence: number;
}

const ORDER = ['Decompression', 'CloudWatchLogProcessing', 'RecordDeAggregation', 'Lambda', 'MetadataExtraction', 'AppendDelimiterToRecord'];

/** Lambda's synchronous invocation payload limit is 6 MB; records travel base64-encoded inside JSON. */
const LAMBDA_PAYLOAD_DATA_BYTES = Math.floor((6 * 1000 * 1000 * 3) / 4) - 64 * 1024;
const LAMBDA_CONCURRENCY = 5;

export class ProcessorChain {
  readonly #steps: readonly { Type: string; params: Readonly<Record<string, string>> }[];
  readonly #ctx: ProcessingContext;
  #jq: Promise<JqProgram> | undefined;

  constructor(config: ProcessingConfiguration | undefined, ctx: ProcessingContext) {
    this.#steps = [...enabledProcessors(config)].sort((a, b) => ORDER.indexOf(a.Type) - ORDER.indexOf(b.Type));
    this.#ctx = ctx;
  }

  get empty(): boolean {
    return this.#steps.length === 0;
  }

  /** Whether a Lambda function transforms the records (SucceedProcessing.* counts only those). */
  get hasLambda(): boolean {
    return this.#steps.some((s) => s.Type === 'Lambda');
  }

  async run(records: readonly SourceRecord[]): Promise<Output[]> {
    const failed: Output[] = [];
    let work: Working[] = [];
    for (const s of records) {
      // Firehose de-aggregates KPL records read from a Kinesis stream by itself (checklist 4.3).
      if (s.kinesis !== undefined && isKplAggregate(s.data)) {
        const subs = deaggregate(s.data);
        if (subs !== undefined) {
          subs.forEach((d, i) => work.push({ source: s, data: d, subsequence: i }));
          continue;
        }
      }
      work.push({ source: s, data: s.data, subsequence: 0 });
    }
    for (const step of this.#steps) {
      switch (step.Type) {
        case 'Decompression':
          work = this.#map(work, failed, (w) => {
            w.data = isGzip(w.data) ? gunzipSync(w.data) : w.data;
            return [w];
          }, 'Decompression.Failed');
          break;
        case 'CloudWatchLogProcessing':
          work = this.#map(work, failed, (w) => cloudWatchLogs(w, step.params.DataMessageExtraction === 'true'), 'CloudWatchLogProcessing.Failed');
          break;
        case 'RecordDeAggregation':
          work = this.#map(work, failed, (w) => splitRecord(w, step.params), 'RecordDeAggregation.Failed');
          break;
        case 'Lambda':
          work = await this.#lambda(work, failed, step.params);
          break;
        case 'MetadataExtraction':
          work = await this.#extract(work, failed, step.params.MetadataExtractionQuery ?? '');
          break;
        case 'AppendDelimiterToRecord':
          for (const w of work) w.data = Buffer.concat([w.data, NEWLINE]);
          break;
      }
    }
    const ok: Output[] = work.map((w) => ({ kind: 'ok', source: w.source, data: w.data, queryKeys: w.queryKeys, lambdaKeys: w.lambdaKeys }));
    return [...ok, ...failed];
  }

  #map(work: Working[], failed: Output[], f: (w: Working) => Working[], errorCode: string): Working[] {
    const out: Working[] = [];
    for (const w of work) {
      try {
        out.push(...f(w));
      } catch (e) {
        failed.push(this.#failure(w.source, errorCode, e instanceof Error ? e.message : String(e), 1));
      }
    }
    return out;
  }

  #failure(source: SourceRecord, errorCode: string, errorMessage: string, attempts: number, extra: Record<string, unknown> = {}): Output {
    return {
      kind: 'failed',
      source,
      errorType: 'processing-failed',
      doc: processingFailedDoc(source, errorCode, errorMessage, attempts, this.#ctx.now(), extra),
    };
  }

  async #lambda(work: Working[], failed: Output[], params: Readonly<Record<string, string>>): Promise<Working[]> {
    const arn = params.LambdaArn ?? '';
    const invoke = this.#ctx.components.invokeTransform;
    if (invoke === undefined) {
      for (const w of work) failed.push(this.#failure(w.source, 'Lambda.FunctionError', 'Lambda transformation is not available on this server.', 1, { lambdaArn: arn }));
      return [];
    }
    const retries = Number(params.NumberOfRetries ?? 3);
    const bufferBytes = Math.min(LAMBDA_PAYLOAD_DATA_BYTES, Math.max(1, Number(params.BufferSizeInMBs ?? 1) * MiB));
    const batches: Working[][] = [];
    let cur: Working[] = [];
    let bytes = 0;
    for (const w of work) {
      if (cur.length > 0 && bytes + w.data.length > bufferBytes) {
        batches.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(w);
      bytes += w.data.length;
    }
    if (cur.length > 0) batches.push(cur);
    const results: Working[][] = new Array<Working[]>(batches.length);
    for (let i = 0; i < batches.length; i += LAMBDA_CONCURRENCY) {
      await Promise.all(
        batches.slice(i, i + LAMBDA_CONCURRENCY).map(async (b, j) => {
          results[i + j] = await this.#invokeBatch(b, failed, arn, retries);
        }),
      );
    }
    return results.flat();
  }

  async #invokeBatch(batch: Working[], failed: Output[], arn: string, retries: number): Promise<Working[]> {
    const invoke = this.#ctx.components.invokeTransform!;
    const byId = new Map<string, Working>();
    const records: TransformRecord[] = batch.map((w, i) => {
      const recordId = `${w.source.position}${w.subsequence > 0 ? `.${w.subsequence}` : ''}-${i}`;
      byId.set(recordId, w);
      const k = w.source.kinesis;
      return {
        recordId,
        approximateArrivalTimestamp: w.source.arrivalMs,
        data: w.data.toString('base64'),
        ...(k !== undefined ? { kinesisRecordMetadata: { ...k, subsequenceNumber: String(w.subsequence) } } : {}),
      };
    });
    let attempts = 0;
    let lastError = '';
    let lastCode = 'Lambda.FunctionError';
    for (;;) {
      attempts++;
      const started = performance.now();
      let answer: TransformResult[] | undefined;
      let retryable = true;
      try {
        answer = await invoke(arn, records, {
          deliveryStreamArn: this.#ctx.deliveryStreamArn,
          region: this.#ctx.region,
          invocationId: randomUUID(),
          ...(this.#ctx.sourceKinesisStreamArn !== undefined ? { sourceKinesisStreamArn: this.#ctx.sourceKinesisStreamArn } : {}),
        });
      } catch (e) {
        lastCode = errorCodeOf(e) ?? 'Lambda.FunctionError';
        lastError = e instanceof Error ? e.message : String(e);
        retryable = !(typeof e === 'object' && e !== null && 'retryable' in e && e.retryable === false);
      }
      this.#ctx.observe('lambda', (performance.now() - started) / 1000, answer !== undefined);
      if (answer !== undefined) {
        const out: Working[] = [];
        answer.forEach((r, i) => {
          const w = byId.get(r.recordId) ?? batch[i]!;
          if (r.result === 'Dropped') return;
          if (r.result === 'Ok') {
            const keys = r.metadata?.partitionKeys;
            out.push({ ...w, data: Buffer.from(r.data ?? '', 'base64'), ...(keys !== undefined ? { lambdaKeys: stringKeys(keys) } : {}) });
            return;
          }
          failed.push(
            this.#failure(w.source, r.errorCode ?? 'Lambda.ProcessingFailedStatus', r.errorMessage ?? 'ProcessingFailed status returned from Lambda function', attempts, {
              lambdaArn: arn,
            }),
          );
        });
        return out;
      }
      if (!retryable || attempts > retries) break;
    }
    for (const w of batch) failed.push(this.#failure(w.source, lastCode, lastError, attempts, { lambdaArn: arn }));
    return [];
  }

  async #extract(work: Working[], failed: Output[], query: string): Promise<Working[]> {
    const compile = this.#ctx.components.compileJq;
    if (compile === undefined) {
      for (const w of work) failed.push(this.#failure(w.source, 'DynamicPartitioning.MetadataExtractionFailed', 'jq is not available on this server.', 1));
      return [];
    }
    let program: JqProgram;
    try {
      this.#jq ??= compile(query);
      program = await this.#jq;
    } catch (e) {
      this.#jq = undefined;
      for (const w of work) failed.push(this.#failure(w.source, 'DynamicPartitioning.MetadataExtractionFailed', `jq: ${e instanceof Error ? e.message : String(e)}`, 1));
      return [];
    }
    const toKeys = this.#ctx.components.toPartitionKeys ?? ((v: unknown) => stringKeys(v as Record<string, unknown>));
    const started = performance.now();
    let outcomes;
    try {
      outcomes = await program.runAll(work.map((w) => w.data));
    } catch (e) {
      this.#ctx.observe('jq', (performance.now() - started) / 1000, false);
      for (const w of work) failed.push(this.#failure(w.source, 'DynamicPartitioning.MetadataExtractionFailed', `jq: ${e instanceof Error ? e.message : String(e)}`, 1));
      return [];
    }
    this.#ctx.observe('jq', (performance.now() - started) / 1000, true);
    const out: Working[] = [];
    work.forEach((w, i) => {
      const r = outcomes[i];
      try {
        if (r === undefined) throw new Error('jq gave no result');
        if (!r.ok) throw r.error;
        w.queryKeys = toKeys(r.value);
        out.push(w);
      } catch (e) {
        failed.push(this.#failure(w.source, 'DynamicPartitioning.MetadataExtractionFailed', e instanceof Error ? e.message : String(e), 1));
      }
    });
    return out;
  }
}

const NEWLINE = Buffer.from('\n');

/** Partition key values as strings; null/undefined values are left out (so the key is missing). */
function stringKeys(o: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

function errorCodeOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'errorCode' in e && typeof e.errorCode === 'string') return e.errorCode;
  return undefined;
}

/** The error-output document of a processing failure (checklist 4.5). */
export function processingFailedDoc(
  source: SourceRecord,
  errorCode: string,
  errorMessage: string,
  attemptsMade: number,
  now: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    attemptsMade,
    arrivalTimestamp: source.arrivalMs,
    errorCode,
    errorMessage,
    attemptEndingTimestamp: now,
    rawData: source.data.toString('base64'),
    ...extra,
  };
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** CloudWatch Logs subscription payloads: CONTROL_MESSAGEs are dropped; with extraction, one record per log event. */
function cloudWatchLogs(w: Working, extract: boolean): Working[] {
  const doc = JSON.parse(w.data.toString('utf8')) as { messageType?: string; logEvents?: { message?: string }[] };
  if (doc.messageType === 'CONTROL_MESSAGE') return [];
  if (!extract) return [w];
  return (doc.logEvents ?? []).map((e, i) => ({ ...w, data: Buffer.from(`${e.message ?? ''}`), subsequence: w.subsequence * 10_000 + i }));
}

/** RecordDeAggregation: concatenated JSON objects, or records joined by a delimiter (base64). */
function splitRecord(w: Working, params: Readonly<Record<string, string>>): Working[] {
  if ((params.SubRecordType ?? 'JSON') === 'DELIMITED') {
    const delim = Buffer.from(params.Delimiter ?? 'Cg==', 'base64');
    if (delim.length === 0) return [w];
    const out: Working[] = [];
    let from = 0;
    for (;;) {
      const at = w.data.indexOf(delim, from);
      const piece = w.data.subarray(from, at < 0 ? w.data.length : at);
      if (piece.length > 0) out.push({ ...w, data: Buffer.from(piece), subsequence: out.length });
      if (at < 0) break;
      from = at + delim.length;
    }
    return out;
  }
  return splitJsonObjects(w.data).map((d, i) => ({ ...w, data: d, subsequence: i }));
}

/** Splits `{"a":1}{"a":2}` (or whitespace-separated objects) into one buffer per top-level value. */
export function splitJsonObjects(data: Buffer): Buffer[] {
  const s = data.toString('utf8');
  const out: Buffer[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      if (start < 0) start = i;
    } else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(Buffer.from(s.slice(start, i + 1)));
        start = -1;
      }
      if (depth < 0) throw new Error('unbalanced JSON in record');
    }
  }
  if (depth !== 0 || inString) throw new Error('truncated JSON in record');
  return out;
}

// ------------------------------------------------------------------------------------ KPL

const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

function isKplAggregate(b: Buffer): boolean {
  return b.length > KPL_MAGIC.length + 16 && b.subarray(0, 4).equals(KPL_MAGIC);
}

/**
 * The user records of a KPL aggregate (magic, proto2 AggregatedRecord, MD5 of the protobuf bytes:
 * checklist 2), or undefined when the MD5 does not match (then the record is not an aggregate and
 * is delivered as it is, as the KCL does).
 */
export function deaggregate(b: Buffer): Buffer[] | undefined {
  const body = b.subarray(4, b.length - 16);
  const digest = createHash('md5').update(body).digest();
  if (!digest.equals(b.subarray(b.length - 16))) return undefined;
  const out: Buffer[] = [];
  try {
    forEachField(body, (field, wire, value) => {
      if (field === 3 && wire === 2) {
        forEachField(value as Buffer, (f, w, v) => {
          if (f === 3 && w === 2) out.push(Buffer.from(v as Buffer));
        });
      }
    });
  } catch {
    return undefined;
  }
  return out;
}

function forEachField(b: Buffer, f: (field: number, wire: number, value: Buffer | bigint) => void): void {
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const byte = b[i++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (wire) {
      case 0:
        f(field, wire, varint());
        break;
      case 1:
        i += 8;
        break;
      case 2: {
        const len = Number(varint());
        if (i + len > b.length) throw new Error('truncated field');
        f(field, wire, b.subarray(i, i + len));
        i += len;
        break;
      }
      case 5:
        i += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }
}
