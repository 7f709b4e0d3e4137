/**
 * Record format conversion: JSON records to Apache Parquet with a Glue table's columns, as
 * Firehose's DataFormatConversionConfiguration does (checklist 4.7; AWS developer guide
 * "Converting your input record format").
 *
 * Reading the JSON follows the two deserializers Firehose offers:
 * - OpenX JSON SerDe (the default here, as AWS recommends it): keys matched case-insensitively
 *   (CaseInsensitive, default true), optional dots-to-underscores and ColumnToJsonKeyMappings;
 *   lenient coercion: numeric strings into numeric columns, any JSON into string columns,
 *   timestamps as ISO / "yyyy-M-d H:mm:ss[.f]" text, epoch seconds, epoch milliseconds (13+
 *   digits) or fractional epoch seconds (rcongiu/Hive-JSON-Serde ParsePrimitiveUtils).
 * - Hive JSON SerDe: strict: a string where the schema says number is an error, nested JSON does
 *   not become a string; timestamps by the configured TimestampFormats (Joda patterns or
 *   "millis"), else java.sql.Timestamp.valueOf's "yyyy-[m]m-[d]d hh:mm:ss[.f...]".
 *
 * A record that does not fit its schema raises {@link FormatConversionError}; the caller writes
 * it to the error output under `format-conversion-failed`.
 *
 * Parquet layout follows Hive's ParquetHiveSerDe where hyparquet-writer can express it: every
 * column OPTIONAL; smallint/tinyint as INT32 with INT_16/INT_8; decimal as FIXED_LEN_BYTE_ARRAY of
 * the smallest width for its precision; date as INT32 DATE. Two differences: timestamps are INT64
 * TIMESTAMP(MICROS, UTC) (hyparquet-writer cannot write Hive's INT96; Athena, Spark, Trino and
 * pyarrow read both), and lists/maps use the parquet-format names (list/element,
 * key_value/key/value) that every reader resolves.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ByteWriter, parquetWrite, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { JsonDecimal, JsonSyntaxError, parseJsonLossless, stringifyJson } from './json-lossless.js';

export interface GlueColumn {
  Name: string;
  Type: string;
}

/** The deserializer part of DataFormatConversionConfiguration, with AWS's member names. */
export interface Deserializer {
  OpenXJsonSerDe?: {
    ConvertDotsInJsonKeysToUnderscores?: boolean;
    CaseInsensitive?: boolean;
    ColumnToJsonKeyMappings?: Record<string, string>;
  };
  HiveJsonSerDe?: { TimestampFormats?: readonly string[] };
}

export interface ParquetOptions {
  /** ParquetSerDe.Compression (AWS default SNAPPY). */
  compression?: 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP';
  /** InputFormatConfiguration.Deserializer; absent = OpenX with its defaults. */
  deserializer?: Deserializer;
  /** ParquetSerDe.EnableDictionaryCompression (default true: dictionaries where they pay). */
  enableDictionaryCompression?: boolean;
  /** ParquetSerDe.PageSizeBytes (default 1 MiB). */
  pageSizeBytes?: number;
}

/** Firehose's `format-conversion-failed` error output. */
export const FORMAT_CONVERSION_ERROR_OUTPUT = 'format-conversion-failed';

export const FormatConversionErrorCode = {
  /** A record is not JSON, or a value does not fit its column. */
  MalformedData: 'DataFormatConversion.MalformedData',
  /** The table's columns cannot be read (bad Glue type string). */
  InvalidSchema: 'DataFormatConversion.InvalidSchema',
  /** No such database/table in the catalog. */
  EntityNotFound: 'DataFormatConversion.EntityNotFound',
} as const;
export type FormatConversionErrorCode = (typeof FormatConversionErrorCode)[keyof typeof FormatConversionErrorCode];

export class FormatConversionError extends Error {
  readonly errorOutputType = FORMAT_CONVERSION_ERROR_OUTPUT;
  constructor(
    readonly errorCode: FormatConversionErrorCode,
    message: string,
    /** Index of the failing record in the `rows` given, when one record is at fault. */
    readonly rowIndex?: number,
    /** Column (dotted path for nested fields) at fault. */
    readonly column?: string,
  ) {
    super(message);
    this.name = 'FormatConversionError';
  }
}

// ---------------------------------------------------------------------------------------------
// Glue (Hive) type strings

export type GlueType =
  | { kind: 'string'; maxLength?: number }
  | { kind: 'int' | 'bigint' | 'smallint' | 'tinyint' | 'double' | 'float' | 'boolean' | 'timestamp' | 'date' | 'binary' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'array'; element: GlueType }
  | { kind: 'map'; key: GlueType; value: GlueType }
  | { kind: 'struct'; fields: { name: string; type: GlueType }[] };

const SIMPLE = new Map<string, GlueType>([
  ['string', { kind: 'string' }],
  ['int', { kind: 'int' }],
  ['integer', { kind: 'int' }],
  ['bigint', { kind: 'bigint' }],
  ['smallint', { kind: 'smallint' }],
  ['tinyint', { kind: 'tinyint' }],
  ['double', { kind: 'double' }],
  ['float', { kind: 'float' }],
  ['boolean', { kind: 'boolean' }],
  ['timestamp', { kind: 'timestamp' }],
  ['date', { kind: 'date' }],
  ['binary', { kind: 'binary' }],
]);

/** Parses a Hive type such as `array<struct<id:bigint,price:decimal(10,2)>>`. */
export function parseGlueType(text: string): GlueType {
  let i = 0;
  const s = text;
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const fail = (msg: string): never => {
    throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, `invalid Glue type '${text}': ${msg} at position ${i}`);
  };
  const expect = (c: string): void => {
    ws();
    if (s[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const ident = (): string => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!m) return fail('expected a type name');
    i += m[0].length;
    return m[0].toLowerCase();
  };
  const int = (): number => {
    ws();
    const m = /^\d+/.exec(s.slice(i));
    if (!m) return fail('expected a number');
    i += m[0].length;
    return Number(m[0]);
  };
  const type = (): GlueType => {
    const name = ident();
    const simple = SIMPLE.get(name);
    if (simple) return simple;
    switch (name) {
      case 'varchar':
      case 'char': {
        expect('(');
        const n = int();
        expect(')');
        return { kind: 'string', maxLength: n };
      }
      case 'decimal': {
        ws();
        let precision = 10;
        let scale = 0;
        if (s[i] === '(') {
          i++;
          precision = int();
          ws();
          if (s[i] === ',') {
            i++;
            scale = int();
          }
          expect(')');
        }
        if (precision < 1 || precision > 38 || scale > precision) fail(`decimal(${precision},${scale}) is out of range (precision 1-38, scale <= precision)`);
        return { kind: 'decimal', precision, scale };
      }
      case 'array': {
        expect('<');
        const element = type();
        expect('>');
        return { kind: 'array', element };
      }
      case 'map': {
        expect('<');
        const key = type();
        expect(',');
        const value = type();
        expect('>');
        if (key.kind === 'array' || key.kind === 'map' || key.kind === 'struct') fail('map keys must be primitive');
        return { kind: 'map', key, value };
      }
      case 'struct': {
        expect('<');
        const fields: { name: string; type: GlueType }[] = [];
        ws();
        if (s[i] === '>') {
          i++;
          return { kind: 'struct', fields };
        }
        for (;;) {
          ws();
          let fname: string;
          if (s[i] === '`') {
            const end = s.indexOf('`', i + 1);
            if (end < 0) fail('unterminated `name`');
            fname = s.slice(i + 1, end);
            i = end + 1;
          } else {
            const m = /^[^:,<>\s]+/.exec(s.slice(i));
            if (!m) return fail('expected a field name');
            fname = m[0];
            i += m[0].length;
          }
          expect(':');
          fields.push({ name: fname, type: type() });
          ws();
          if (s[i] === ',') {
            i++;
            continue;
          }
          expect('>');
          return { kind: 'struct', fields };
        }
      }
      default:
        return fail(`unsupported type '${name}'`);
    }
  };
  const t = type();
  ws();
  if (i !== s.length) fail('unexpected trailing text');
  return t;
}

export function formatGlueType(t: GlueType): string {
  switch (t.kind) {
    case 'string':
      return t.maxLength === undefined ? 'string' : `varchar(${t.maxLength})`;
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'array':
      return `array<${formatGlueType(t.element)}>`;
    case 'map':
      return `map<${formatGlueType(t.key)},${formatGlueType(t.value)}>`;
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}:${formatGlueType(f.type)}`).join(',')}>`;
    default:
      return t.kind;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading one record

interface ReadRules {
  mode: 'openx' | 'hive';
  caseInsensitive: boolean;
  dotsToUnderscores: boolean;
  /** column name (lowercased when case-insensitive) -> JSON key to read instead */
  mappings: Map<string, string>;
  /** Hive TimestampFormats, compiled */
  timestampFormats: ((s: string) => bigint | undefined)[];
  millisFormat: boolean;
}

interface PreparedSchema {
  columns: { name: string; type: GlueType }[];
  schema: SchemaElement[];
}

const preparedCache = new WeakMap<readonly GlueColumn[], PreparedSchema>();

function prepareSchema(columns: readonly GlueColumn[]): PreparedSchema {
  const hit = preparedCache.get(columns);
  if (hit) return hit;
  if (columns.length === 0) throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, 'the table has no columns');
  const parsed = columns.map((c) => {
    if (typeof c?.Name !== 'string' || c.Name === '' || typeof c.Type !== 'string') {
      throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, `column ${JSON.stringify(c)} needs a Name and a Type`);
    }
    try {
      return { name: c.Name, type: parseGlueType(c.Type) };
    } catch (e) {
      throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, `column '${c.Name}': ${(e as Error).message}`, undefined, c.Name);
    }
  });
  const schema: SchemaElement[] = [{ name: 'root', num_children: parsed.length }];
  for (const c of parsed) appendSchema(schema, c.name, c.type);
  const out = { columns: parsed, schema };
  preparedCache.set(columns, out);
  return out;
}

function rulesFor(d: Deserializer | undefined): ReadRules {
  if (d?.HiveJsonSerDe && !d.OpenXJsonSerDe) {
    const formats = d.HiveJsonSerDe.TimestampFormats ?? [];
    return {
      mode: 'hive',
      caseInsensitive: true,
      dotsToUnderscores: false,
      mappings: new Map(),
      millisFormat: formats.includes('millis'),
      timestampFormats: formats.filter((f) => f !== 'millis').map((f) => compileJodaPattern(f)),
    };
  }
  const o = d?.OpenXJsonSerDe ?? {};
  const caseInsensitive = o.CaseInsensitive ?? true;
  const mappings = new Map<string, string>();
  for (const [col, key] of Object.entries(o.ColumnToJsonKeyMappings ?? {})) {
    mappings.set(caseInsensitive ? col.toLowerCase() : col, caseInsensitive ? key.toLowerCase() : key);
  }
  return { mode: 'openx', caseInsensitive, dotsToUnderscores: o.ConvertDotsInJsonKeysToUnderscores ?? false, mappings, timestampFormats: [], millisFormat: false };
}

class FieldError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** JSON object keys as the SerDe sees them. */
function keyed(obj: Record<string, unknown>, rules: ReadRules): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const [k0, v] of Object.entries(obj)) {
    let k = k0;
    if (rules.dotsToUnderscores) k = k.replaceAll('.', '_');
    if (rules.caseInsensitive) k = k.toLowerCase();
    m.set(k, v);
  }
  return m;
}

function lookup(fields: Map<string, unknown>, name: string, rules: ReadRules, topLevel: boolean): unknown {
  const n = rules.caseInsensitive ? name.toLowerCase() : name;
  const mapped = topLevel ? rules.mappings.get(n) : undefined;
  return fields.get(mapped ?? n);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonDecimal) && !(v instanceof Uint8Array);
}

function describe(v: unknown): string {
  const s = stringifyJson(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function convert(t: GlueType, v: unknown, path: string, rules: ReadRules): unknown {
  if (v === null || v === undefined) return null;
  const bad = (why?: string): never => {
    throw new FieldError(path, `cannot read ${describe(v)} as ${formatGlueType(t)}${why ? `: ${why}` : ''}`);
  };
  const strictNumber = (): void => {
    if (typeof v === 'string' && rules.mode === 'hive') bad('the Hive JSON SerDe does not read numbers from strings');
  };
  switch (t.kind) {
    case 'string': {
      let s: string;
      if (typeof v === 'string') s = v;
      else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v instanceof JsonDecimal) s = String(v);
      else if (rules.mode === 'hive') return bad('the Hive JSON SerDe does not turn nested JSON into strings');
      else s = stringifyJson(v);
      // Hive truncates varchar(n)/char(n) values to n characters.
      return t.maxLength !== undefined && s.length > t.maxLength ? Array.from(s).slice(0, t.maxLength).join('') : s;
    }
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint': {
      strictNumber();
      const n = integerOf(v);
      if (n === undefined) return bad();
      const bits = { tinyint: 8n, smallint: 16n, int: 32n, bigint: 64n }[t.kind];
      const lim = 1n << (bits - 1n);
      if (n < -lim || n >= lim) return bad(`out of range for ${t.kind}`);
      return t.kind === 'bigint' ? n : Number(n);
    }
    case 'double':
    case 'float': {
      strictNumber();
      const d = doubleOf(v);
      if (d === undefined) return bad();
      return t.kind === 'float' ? Math.fround(d) : d;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && rules.mode === 'openx' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      return bad();
    case 'decimal': {
      strictNumber();
      let text: string | undefined;
      if (typeof v === 'number' && Number.isFinite(v)) text = String(v);
      else if (typeof v === 'bigint' || v instanceof JsonDecimal) text = String(v);
      else if (typeof v === 'string') text = v.trim();
      const unscaled = text === undefined ? undefined : decimalUnscaled(text, t.scale, 'round');
      if (unscaled === undefined) return bad();
      const limit = 10n ** BigInt(t.precision);
      if (unscaled <= -limit || unscaled >= limit) return bad(`more than ${t.precision} digits`);
      return unscaled;
    }
    case 'timestamp': {
      const us = timestampMicros(v, rules);
      return us === undefined ? bad() : us;
    }
    case 'date': {
      const m = typeof v === 'string' ? /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(v.trim()) : null;
      const day = m ? epochDay(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
      return day === undefined ? bad('expected yyyy-mm-dd') : day;
    }
    case 'binary':
      if (typeof v === 'string') return new TextEncoder().encode(v);
      return bad('expected a string');
    case 'array':
      if (!Array.isArray(v)) return bad('expected a JSON array');
      return v.map((x, i) => convert(t.element, x, `${path}[${i}]`, rules));
    case 'map': {
      if (!isPlainObject(v)) return bad('expected a JSON object');
      return Object.entries(v).map(([k, x]) => {
        const key = convert(t.key, k, `${path}.${k} (key)`, rules);
        if (key === null) throw new FieldError(path, 'map keys cannot be null');
        return { key, value: convert(t.value, x, `${path}.${k}`, rules) };
      });
    }
    case 'struct': {
      if (!isPlainObject(v)) return bad('expected a JSON object');
      const fields = keyed(v, rules);
      const out: Record<string, unknown> = {};
      for (const f of t.fields) out[f.name] = convert(f.type, lookup(fields, f.name, rules, false), `${path}.${f.name}`, rules);
      return out;
    }
  }
}

function integerOf(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  // A fraction is cut toward zero, as Java's Number.intValue()/Jackson getIntValue() do.
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : undefined;
  if (v instanceof JsonDecimal) return decimalUnscaled(v.text, 0, 'truncate');
  if (typeof v === 'string') {
    // OpenX ParsePrimitiveUtils.parseInt/parseLong: decimal digits or 0x hex, nothing else.
    if (/^[+-]?\d+$/.test(v)) return BigInt(v);
    const hex = /^0[xX]([0-9a-fA-F]+)$/.exec(v);
    if (hex) return BigInt(`0x${hex[1]!}`);
  }
  return undefined;
}

function doubleOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || v instanceof JsonDecimal) return Number(String(v));
  // Java Double.parseDouble: surrounding blanks, NaN/Infinity and a d/f suffix are accepted.
  if (typeof v === 'string') {
    const m = /^\s*([+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))[dDfF]?\s*$/.exec(v);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The decimal `text` times 10^scale as an integer, rounded half-up or truncated. */
export function decimalUnscaled(text: string, scale: number, mode: 'round' | 'truncate'): bigint | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const intPart = m[2] ?? '';
  const frac = m[3] ?? '';
  if (intPart === '' && frac === '') return undefined;
  const exp = Number(m[4] ?? '0') - frac.length + scale;
  if (Math.abs(exp) > 10_000) return undefined;
  let digits = BigInt(`${intPart}${frac}` || '0');
  if (exp >= 0) digits *= 10n ** BigInt(exp);
  else {
    const div = 10n ** BigInt(-exp);
    const q = digits / div;
    const r = digits % div;
    digits = mode === 'round' && r * 2n >= div ? q + 1n : q;
  }
  return m[1] === '-' ? -digits : digits;
}

// ---------------------------------------------------------------------------------------------
// Dates and timestamps (all UTC; Firehose runs its SerDes in UTC)

function epochDay(y: number, mo: number, d: number): number | undefined {
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (y < 0 || back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return Math.floor(ms / 86_400_000);
}

function micros(y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string, offsetMinutes: number): bigint | undefined {
  const day = epochDay(y, mo, d);
  if (day === undefined || h > 23 || mi > 59 || s > 59) return undefined;
  const us = BigInt(Number((frac + '000000').slice(0, 6)));
  return (BigInt(day) * 86_400n + BigInt(h * 3600 + mi * 60 + s - offsetMinutes * 60)) * 1_000_000n + us;
}

const DATE_TIME = /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

function offsetOf(z: string | undefined): number {
  if (!z || z === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(z)!;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function dateTimeText(s: string): bigint | undefined {
  const m = DATE_TIME.exec(s.trim());
  if (!m) return undefined;
  return micros(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), m[7] ?? '', offsetOf(m[8]));
}

function timestampMicros(v: unknown, rules: ReadRules): bigint | undefined {
  if (rules.mode === 'hive') {
    const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined;
    if (s === undefined) return undefined;
    if (rules.millisFormat && /^-?\d+$/.test(s)) return BigInt(s) * 1000n;
    for (const f of rules.timestampFormats) {
      const r = f(s);
      if (r !== undefined) return r;
    }
    // java.sql.Timestamp.valueOf: yyyy-[m]m-[d]d hh:mm:ss[.f...], no zone.
    const m = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/.exec(s);
    return m ? micros(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), m[7] ?? '', 0) : undefined;
  }
  // OpenX ParsePrimitiveUtils.parseTimestamp: text with ':' is a date-time; with '.' fractional
  // epoch seconds; otherwise an integer, milliseconds when it has 13 digits or more.
  let s: string;
  if (typeof v === 'string') s = v.trim();
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else if (typeof v === 'bigint' || v instanceof JsonDecimal) s = String(v);
  else return undefined;
  if (s.includes(':')) return dateTimeText(s);
  if (/[.eE]/.test(s)) return decimalUnscaled(s, 6, 'truncate');
  if (!/^-?\d+$/.test(s)) return undefined;
  const digits = s.replace('-', '');
  return digits.length >= 13 ? BigInt(s) * 1000n : BigInt(s) * 1_000_000n;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * A Joda-Time DateTimeFormat pattern (HiveJsonSerDe.TimestampFormats) as a parser. Supported
 * letters: y Y (year), M (month, MMM names), d, H, h with a, m, s, S (fraction), Z (offset), E
 * (day name, ignored), and quoted literals.
 */
export function compileJodaPattern(pattern: string): (s: string) => bigint | undefined {
  const groups: string[] = [];
  let re = '';
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end === i + 1) {
        re += "'";
        i += 2;
        continue;
      }
      if (end < 0) throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, `timestamp format '${pattern}': unterminated quote`);
      re += escapeRe(pattern.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let n = 1;
      while (pattern[i + n] === c) n++;
      i += n;
      const g = (name: string, body: string): void => {
        groups.push(name);
        re += `(${body})`;
      };
      switch (c) {
        case 'y':
        case 'Y':
        case 'x':
          g('year', n === 2 ? '\\d{2}' : '\\d{4}');
          break;
        case 'M':
          if (n >= 3) g('monthName', '[A-Za-z]+');
          else g('month', n === 2 ? '\\d{2}' : '\\d{1,2}');
          break;
        case 'd':
          g('day', n === 2 ? '\\d{2}' : '\\d{1,2}');
          break;
        case 'H':
          g('hour', n === 2 ? '\\d{2}' : '\\d{1,2}');
          break;
        case 'h':
          g('hour12', n === 2 ? '\\d{2}' : '\\d{1,2}');
          break;
        case 'a':
          g('ampm', '[AaPp][Mm]');
          break;
        case 'm':
          g('minute', n === 2 ? '\\d{2}' : '\\d{1,2}');
          break;
        case 's':
          g('second', n === 2 ? '\\d{2}' : '\\d{1,2}');
          break;
        case 'S':
          g('fraction', `\\d{1,${Math.max(n, 1)}}`);
          break;
        case 'Z':
          g('zone', 'Z|[+-]\\d{2}:?\\d{2}');
          break;
        case 'E':
          g('dayName', '[A-Za-z]+');
          break;
        default:
          throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, `timestamp format '${pattern}': pattern letter '${c}' is not supported`);
      }
      continue;
    }
    re += escapeRe(c);
    i++;
  }
  const rx = new RegExp(`^${re}$`);
  return (s: string) => {
    const m = rx.exec(s.trim());
    if (!m) return undefined;
    const v: Record<string, string> = {};
    groups.forEach((name, k) => {
      v[name] = m[k + 1]!;
    });
    let year = Number(v.year ?? '1970');
    if (v.year?.length === 2) year += 2000;
    let month = Number(v.month ?? '1');
    if (v.monthName !== undefined) {
      month = MONTHS.indexOf(v.monthName.slice(0, 3).toLowerCase()) + 1;
      if (month === 0) return undefined;
    }
    let hour = Number(v.hour ?? '0');
    if (v.hour12 !== undefined) hour = (Number(v.hour12) % 12) + (v.ampm?.toLowerCase() === 'pm' ? 12 : 0);
    return micros(year, month, Number(v.day ?? '1'), hour, Number(v.minute ?? '0'), Number(v.second ?? '0'), v.fraction ?? '', offsetOf(v.zone));
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Parquet schema

/** Bytes of a FIXED_LEN_BYTE_ARRAY decimal: the fewest holding 10^p - 1 in two's complement. */
function decimalBytes(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let n = 1;
  while ((1n << BigInt(8 * n - 1)) - 1n < max) n++;
  return n;
}

function appendSchema(out: SchemaElement[], name: string, t: GlueType): void {
  const opt = 'OPTIONAL' as const;
  switch (t.kind) {
    case 'string':
      out.push({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: opt });
      return;
    case 'int':
      out.push({ name, type: 'INT32', repetition_type: opt });
      return;
    case 'smallint':
      out.push({ name, type: 'INT32', converted_type: 'INT_16', repetition_type: opt });
      return;
    case 'tinyint':
      out.push({ name, type: 'INT32', converted_type: 'INT_8', repetition_type: opt });
      return;
    case 'bigint':
      out.push({ name, type: 'INT64', repetition_type: opt });
      return;
    case 'double':
      out.push({ name, type: 'DOUBLE', repetition_type: opt });
      return;
    case 'float':
      out.push({ name, type: 'FLOAT', repetition_type: opt });
      return;
    case 'boolean':
      out.push({ name, type: 'BOOLEAN', repetition_type: opt });
      return;
    case 'binary':
      out.push({ name, type: 'BYTE_ARRAY', repetition_type: opt });
      return;
    case 'date':
      out.push({ name, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' }, repetition_type: opt });
      return;
    case 'timestamp':
      out.push({
        name,
        type: 'INT64',
        converted_type: 'TIMESTAMP_MICROS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
        repetition_type: opt,
      });
      return;
    case 'decimal':
      out.push({
        name,
        type: 'FIXED_LEN_BYTE_ARRAY',
        type_length: decimalBytes(t.precision),
        converted_type: 'DECIMAL',
        precision: t.precision,
        scale: t.scale,
        logical_type: { type: 'DECIMAL', precision: t.precision, scale: t.scale },
        repetition_type: opt,
      });
      return;
    case 'array':
      out.push({ name, converted_type: 'LIST', logical_type: { type: 'LIST' }, repetition_type: opt, num_children: 1 });
      out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      appendSchema(out, 'element', t.element);
      return;
    case 'map':
      out.push({ name, converted_type: 'MAP', logical_type: { type: 'MAP' }, repetition_type: opt, num_children: 1 });
      out.push({ name: 'key_value', repetition_type: 'REPEATED', num_children: 2 });
      appendSchema(out, 'key', t.key);
      out[out.length - 1]!.repetition_type = 'REQUIRED';
      appendSchema(out, 'value', t.value);
      return;
    case 'struct':
      if (t.fields.length === 0) throw new FormatConversionError(FormatConversionErrorCode.InvalidSchema, `struct '${name}' has no fields; Parquet groups need at least one`);
      out.push({ name, repetition_type: opt, num_children: t.fields.length });
      for (const f of t.fields) appendSchema(out, f.name, f.type);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Public entry points

function recordObject(row: unknown): Record<string, unknown> {
  let v = row;
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const text = typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
    try {
      v = parseJsonLossless(text);
    } catch (e) {
      throw new FieldError('', e instanceof JsonSyntaxError ? `the record is not valid JSON: ${e.message}` : String(e));
    }
  }
  if (!isPlainObject(v)) throw new FieldError('', 'the record is not a JSON object');
  return v;
}

/**
 * One record (a parsed JSON object, or its JSON text as a string or Buffer) read against the
 * columns: the row hyparquet-writer takes, or a {@link FormatConversionError}.
 */
export function convertRecord(row: unknown, columns: readonly GlueColumn[], options: ParquetOptions = {}, rowIndex?: number): Record<string, unknown> {
  const prepared = prepareSchema(columns);
  return readRow(row, prepared, rulesFor(options.deserializer), rowIndex);
}

function readRow(row: unknown, prepared: PreparedSchema, rules: ReadRules, rowIndex: number | undefined): Record<string, unknown> {
  try {
    const fields = keyed(recordObject(row), rules);
    const out: Record<string, unknown> = {};
    for (const c of prepared.columns) out[c.name] = convert(c.type, lookup(fields, c.name, rules, true), c.name, rules);
    return out;
  } catch (e) {
    if (e instanceof FieldError) {
      const where = e.path ? `column '${e.path}': ` : '';
      throw new FormatConversionError(FormatConversionErrorCode.MalformedData, `${where}${e.message}`, rowIndex, e.path || undefined);
    }
    throw e;
  }
}

/** Records that failed {@link convertToParquet}, by index into the rows given. */
export interface ConversionFailure {
  index: number;
  error: FormatConversionError;
}

/**
 * Converts every record that fits and reports the others, so one bad record costs itself, not
 * its S3 object: the good ones in a Parquet file (undefined when none fit), the rest for the
 * `format-conversion-failed` error output.
 */
export function convertToParquet(
  rows: readonly unknown[],
  columns: readonly GlueColumn[],
  options: ParquetOptions = {},
): { parquet: Buffer | undefined; converted: number; failures: ConversionFailure[] } {
  const prepared = prepareSchema(columns);
  const rules = rulesFor(options.deserializer);
  const good: Record<string, unknown>[] = [];
  const failures: ConversionFailure[] = [];
  rows.forEach((row, index) => {
    try {
      good.push(readRow(row, prepared, rules, index));
    } catch (e) {
      if (e instanceof FormatConversionError) failures.push({ index, error: e });
      else throw e;
    }
  });
  return { parquet: good.length ? writeRows(good, prepared, options) : undefined, converted: good.length, failures };
}

/**
 * All records to one Parquet file; the first record that does not fit throws
 * {@link FormatConversionError} with its `rowIndex`.
 */
export function jsonToParquet(rows: readonly unknown[], columns: readonly GlueColumn[], options: ParquetOptions = {}): Buffer {
  const prepared = prepareSchema(columns);
  const rules = rulesFor(options.deserializer);
  const converted = rows.map((row, index) => readRow(row, prepared, rules, index));
  return writeRows(converted, prepared, options);
}

function writeRows(rows: Record<string, unknown>[], prepared: PreparedSchema, options: ParquetOptions): Buffer {
  const codec = options.compression ?? 'SNAPPY';
  const plain = options.enableDictionaryCompression === false;
  const columnData: ColumnSource[] = prepared.columns.map((c) => ({
    name: c.name,
    data: rows.map((r) => r[c.name]),
    ...(plain ? { encoding: 'PLAIN' as const } : {}),
  }));
  const writer = new ByteWriter();
  const r = parquetWrite({
    writer,
    columnData,
    schema: prepared.schema,
    codec,
    compressors: { GZIP: (input: Uint8Array) => gzipSync(input) },
    rowGroupSize: 100_000,
    pageSize: options.pageSizeBytes ?? 1_048_576,
    createdBy: 'eddy firehose (hyparquet-writer)',
  });
  if (r instanceof Promise) throw new Error('hyparquet-writer wrote asynchronously to an in-memory writer');
  const bytes = writer.getBytes();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// The Glue stand-in

export interface SchemaCatalog {
  table(databaseName: string, tableName: string, catalogId?: string): readonly GlueColumn[] | undefined;
}

interface CatalogFile {
  databases?: Record<string, { tables?: Record<string, { columns?: GlueColumn[] }> }>;
  catalogs?: Record<string, { databases?: CatalogFile['databases'] }>;
}

/**
 * The Glue Data Catalog stand-in: a JSON file
 * `{"databases": {"db": {"tables": {"t": {"columns": [{"Name": "x", "Type": "int"}]}}}}}`,
 * optionally with per-account catalogs `{"catalogs": {"123456789012": {"databases": ...}}}`
 * (a SchemaConfiguration.CatalogId selects one; `databases` is the default catalog). Names are
 * matched case-insensitively, as Glue lowercases them. Every column type is checked on load.
 * No path: an empty catalog.
 */
export function loadSchemaCatalog(path: string | undefined): SchemaCatalog {
  const catalogs = new Map<string, Map<string, Map<string, readonly GlueColumn[]>>>();
  if (path !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`glue catalog ${path}: ${(e as Error).message}`);
    }
    if (!isPlainObject(parsed)) throw new Error(`glue catalog ${path}: expected a JSON object with "databases"`);
    const raw = parsed as CatalogFile;
    const load = (id: string, dbs: CatalogFile['databases']): void => {
      const out = new Map<string, Map<string, readonly GlueColumn[]>>();
      for (const [db, d] of Object.entries(dbs ?? {})) {
        const tables = new Map<string, readonly GlueColumn[]>();
        for (const [t, def] of Object.entries(d?.tables ?? {})) {
          const cols = def?.columns;
          if (!Array.isArray(cols)) throw new Error(`glue catalog ${path}: ${db}.${t} needs "columns": [{"Name", "Type"}]`);
          try {
            prepareSchema(cols);
          } catch (e) {
            throw new Error(`glue catalog ${path}: ${db}.${t}: ${(e as Error).message}`);
          }
          tables.set(t.toLowerCase(), Object.freeze(cols.map((c) => Object.freeze({ Name: c.Name, Type: c.Type }))));
        }
        out.set(db.toLowerCase(), tables);
      }
      catalogs.set(id, out);
    };
    load('', raw.databases);
    for (const [id, c] of Object.entries(raw.catalogs ?? {})) load(id, c?.databases);
  }
  return {
    table(databaseName, tableName, catalogId) {
      const c = catalogs.get(catalogId ?? '') ?? (catalogId === undefined ? undefined : catalogs.get(''));
      return c?.get(databaseName.toLowerCase())?.get(tableName.toLowerCase());
    },
  };
}
