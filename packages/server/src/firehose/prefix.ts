/**
 * S3 object keys as Firehose names them (checklist 4.6; AWS developer guide "Custom prefixes for
 * Amazon S3 objects", "Amazon S3 object name format"):
 *
 *   key    = <evaluated prefix><DeliveryStreamName>-<VersionId>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><extension>
 *   prefix = Prefix with its `!{namespace:value}` expressions evaluated:
 *            `!{timestamp:<DateTimeFormatter pattern>}`, `!{firehose:random-string}`,
 *            `!{firehose:error-output-type}` (ErrorOutputPrefix only),
 *            `!{partitionKeyFromQuery:k}` / `!{partitionKeyFromLambda:k}` (dynamic partitioning).
 *
 * Semantic rules applied here (developer guide, "Semantic rules"):
 * - a Prefix with no timestamp expression gets `!{timestamp:yyyy/MM/dd/HH/}` appended (a missing
 *   Prefix therefore evaluates to `yyyy/MM/dd/HH/`), unless it partitions by key: dynamically
 *   partitioned prefixes are used as written;
 * - with no ErrorOutputPrefix (only allowed when Prefix has no expressions) errors go to
 *   `<Prefix><error-output-type>/yyyy/MM/dd/HH/`; a given ErrorOutputPrefix is used as written;
 * - every timestamp in one key is the same instant: the arrival of the oldest record in the object,
 *   in UTC unless CustomTimeZone says otherwise (the suffix uses the same instant and zone).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { firehoseErrors } from './errors.js';

export type PrefixPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'timestamp'; readonly format: DateFormat }
  | { readonly kind: 'random' }
  | { readonly kind: 'errorType' }
  | { readonly kind: 'query'; readonly key: string }
  | { readonly kind: 'lambda'; readonly key: string };

export interface ParsedPrefix {
  readonly source: string;
  readonly parts: readonly PrefixPart[];
  readonly hasExpressions: boolean;
  readonly hasTimestamp: boolean;
  readonly hasErrorType: boolean;
  readonly queryKeys: readonly string[];
  readonly lambdaKeys: readonly string[];
}

/** The values error-output-type takes (checklist 4.6). */
export type ErrorOutputType =
  | 'processing-failed'
  | 'format-conversion-failed'
  | 'http-endpoint-failed'
  | 'splunk-failed'
  | 'AmazonOpenSearchService-failed'
  | 'elasticsearch-failed'
  | 'AmazonOpenSearchServerless-failed'
  | 'redshift-failed';

/** Parses a Prefix or ErrorOutputPrefix; throws InvalidArgumentException on a malformed expression. */
export function parsePrefix(source: string, field: string): ParsedPrefix {
  const parts: PrefixPart[] = [];
  let text = '';
  let i = 0;
  const flush = () => {
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
  };
  while (i < source.length) {
    const at = source.indexOf('!{', i);
    if (at < 0) {
      text += source.slice(i);
      break;
    }
    text += source.slice(i, at);
    const end = source.indexOf('}', at + 2);
    if (end < 0) throw firehoseErrors.InvalidArgumentException(`${field} ${source} is invalid: the sequence !{ can only appear in !{namespace:value} expressions.`);
    const body = source.slice(at + 2, end);
    const colon = body.indexOf(':');
    const ns = colon < 0 ? body : body.slice(0, colon);
    const value = colon < 0 ? '' : body.slice(colon + 1);
    flush();
    switch (ns) {
      case 'timestamp':
        parts.push({ kind: 'timestamp', format: compileDateFormat(value, field) });
        break;
      case 'firehose':
        if (value === 'random-string') parts.push({ kind: 'random' });
        else if (value === 'error-output-type') parts.push({ kind: 'errorType' });
        else throw firehoseErrors.InvalidArgumentException(`${field} ${source} is invalid: unknown firehose namespace value '${value}'; expected random-string or error-output-type.`);
        break;
      case 'partitionKeyFromQuery':
      case 'partitionKeyFromLambda':
        if (value === '') throw firehoseErrors.InvalidArgumentException(`${field} ${source} is invalid: ${ns} needs a key name.`);
        parts.push({ kind: ns === 'partitionKeyFromQuery' ? 'query' : 'lambda', key: value });
        break;
      default:
        throw firehoseErrors.InvalidArgumentException(
          `${field} ${source} is invalid: unknown namespace '${ns}'; expected timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda.`,
        );
    }
    i = end + 1;
  }
  flush();
  return {
    source,
    parts,
    hasExpressions: parts.some((p) => p.kind !== 'text'),
    hasTimestamp: parts.some((p) => p.kind === 'timestamp'),
    hasErrorType: parts.some((p) => p.kind === 'errorType'),
    queryKeys: parts.flatMap((p) => (p.kind === 'query' ? [p.key] : [])),
    lambdaKeys: parts.flatMap((p) => (p.kind === 'lambda' ? [p.key] : [])),
  };
}

const HOURLY = compileDateFormat('yyyy/MM/dd/HH/', 'Prefix');

/** The parts of a Prefix as delivered: the default time path appended when it has no timestamp. */
export function deliveryPrefix(prefix: string | undefined): readonly PrefixPart[] {
  const p = parsePrefix(prefix ?? '', 'Prefix');
  if (p.hasTimestamp || p.queryKeys.length > 0 || p.lambdaKeys.length > 0) return p.parts;
  return [...p.parts, { kind: 'timestamp', format: HOURLY }];
}

/** The parts of the error prefix: ErrorOutputPrefix as written, or `<Prefix><type>/yyyy/MM/dd/HH/`. */
export function errorPrefix(prefix: string | undefined, errorOutputPrefix: string | undefined): readonly PrefixPart[] {
  if (errorOutputPrefix !== undefined && errorOutputPrefix !== '') return parsePrefix(errorOutputPrefix, 'ErrorOutputPrefix').parts;
  return [...parsePrefix(prefix ?? '', 'Prefix').parts, { kind: 'errorType' }, { kind: 'text', text: '/' }, { kind: 'timestamp', format: HOURLY }];
}

export interface PrefixValues {
  /** Epoch ms: the arrival of the oldest record in the object. */
  readonly atMs: number;
  readonly timeZone: string;
  readonly errorType?: ErrorOutputType;
  readonly queryKeys?: Readonly<Record<string, string>>;
  readonly lambdaKeys?: Readonly<Record<string, string>>;
}

export function evaluatePrefix(parts: readonly PrefixPart[], v: PrefixValues): string {
  let out = '';
  let fields: DateFields | undefined;
  for (const p of parts) {
    switch (p.kind) {
      case 'text':
        out += p.text;
        break;
      case 'timestamp':
        fields ??= dateFields(v.atMs, v.timeZone);
        out += p.format(fields);
        break;
      case 'random':
        out += randomString();
        break;
      case 'errorType':
        out += v.errorType ?? '';
        break;
      case 'query':
        out += v.queryKeys?.[p.key] ?? '';
        break;
      case 'lambda':
        out += v.lambdaKeys?.[p.key] ?? '';
        break;
    }
  }
  return out;
}

/** `!{firehose:random-string}`: 11 random characters, new for every occurrence. */
export function randomString(): string {
  return randomBytes(6).toString('hex').slice(0, 11);
}

/** `<name>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid>` (the extension is added by the caller). */
export function objectSuffix(streamName: string, versionId: number, atMs: number, timeZone: string): string {
  const f = dateFields(atMs, timeZone);
  return `${streamName}-${versionId}-${f.year}-${pad(f.month, 2)}-${pad(f.day, 2)}-${pad(f.hour, 2)}-${pad(f.minute, 2)}-${pad(f.second, 2)}-${randomUUID()}`;
}

/** Checks a CustomTimeZone; throws InvalidArgumentException when the runtime does not know it. */
export function checkTimeZone(tz: string): void {
  try {
    formatterFor(tz);
  } catch {
    throw firehoseErrors.InvalidArgumentException(`CustomTimeZone ${tz} is not a supported time zone.`);
  }
}

// ------------------------------------------------------------------------------------------ dates

export interface DateFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millis: number;
  /** 0 = Sunday. */
  readonly weekday: number;
  readonly dayOfYear: number;
}

type DateFormat = (f: DateFields) => string;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(tz, f);
  }
  return f;
}

export function dateFields(ms: number, timeZone: string): DateFields {
  let y: number, mo: number, d: number, h: number, mi: number, s: number;
  if (timeZone === '' || timeZone === 'UTC') {
    const t = new Date(ms);
    y = t.getUTCFullYear();
    mo = t.getUTCMonth() + 1;
    d = t.getUTCDate();
    h = t.getUTCHours();
    mi = t.getUTCMinutes();
    s = t.getUTCSeconds();
  } else {
    const parts = formatterFor(timeZone).formatToParts(new Date(ms));
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    y = get('year');
    mo = get('month');
    d = get('day');
    h = get('hour') % 24;
    mi = get('minute');
    s = get('second');
  }
  const dayStart = Date.UTC(y, mo - 1, d);
  return {
    year: y,
    month: mo,
    day: d,
    hour: h,
    minute: mi,
    second: s,
    millis: ((ms % 1000) + 1000) % 1000,
    weekday: new Date(dayStart).getUTCDay(),
    dayOfYear: Math.round((dayStart - Date.UTC(y, 0, 1)) / 86_400_000) + 1,
  };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/**
 * Compiles the subset of java.time.format.DateTimeFormatter patterns that prefixes use: y/u (year),
 * M/L (month), d, D (day of year), H, k, h, K, m, s, S (fraction), a, E (day name), e/c (day of
 * week number), 'quoted literals' and '' for a quote. Other letters are refused, as Firehose
 * refuses patterns Java cannot compile.
 */
export function compileDateFormat(pattern: string, field: string): DateFormat {
  const pieces: DateFormat[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "'") {
      const close = pattern.indexOf("'", i + 1);
      if (close < 0) throw firehoseErrors.InvalidArgumentException(`${field} has an unterminated quote in the timestamp pattern '${pattern}'.`);
      const lit = close === i + 1 ? "'" : pattern.slice(i + 1, close);
      pieces.push(() => lit);
      i = close + 1;
      continue;
    }
    if (!/[A-Za-z]/.test(c)) {
      pieces.push(() => c);
      i++;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === c) n++;
    i += n;
    pieces.push(letter(c, n, pattern, field));
  }
  return (f) => pieces.map((p) => p(f)).join('');
}

function letter(c: string, n: number, pattern: string, field: string): DateFormat {
  switch (c) {
    case 'y':
    case 'u':
      return n === 2 ? (f) => pad(f.year % 100, 2) : (f) => pad(f.year, n);
    case 'M':
    case 'L':
      if (n === 3) return (f) => MONTHS[f.month - 1]!.slice(0, 3);
      if (n >= 4) return (f) => MONTHS[f.month - 1]!;
      return (f) => pad(f.month, n);
    case 'd':
      return (f) => pad(f.day, n);
    case 'D':
      return (f) => pad(f.dayOfYear, n);
    case 'H':
      return (f) => pad(f.hour, n);
    case 'k':
      return (f) => pad(f.hour === 0 ? 24 : f.hour, n);
    case 'h':
      return (f) => pad(f.hour % 12 === 0 ? 12 : f.hour % 12, n);
    case 'K':
      return (f) => pad(f.hour % 12, n);
    case 'm':
      return (f) => pad(f.minute, n);
    case 's':
      return (f) => pad(f.second, n);
    case 'S':
      return (f) => pad(f.millis, 3).slice(0, n).padEnd(n, '0');
    case 'a':
      return (f) => (f.hour < 12 ? 'AM' : 'PM');
    case 'E':
      return n >= 4 ? (f) => DAYS[f.weekday]! : (f) => DAYS[f.weekday]!.slice(0, 3);
    case 'e':
    case 'c':
      // Localized day of week; Java's default (US) locale counts from Sunday = 1.
      return (f) => pad(f.weekday + 1, n);
    default:
      throw firehoseErrors.InvalidArgumentException(`${field} has an unsupported letter '${c}' in the timestamp pattern '${pattern}'.`);
  }
}
