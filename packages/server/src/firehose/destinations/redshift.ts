/**
 * The Redshift destination: COPY semantics onto PostgreSQL (Redshift speaks its protocol).
 *
 * Firehose writes each batch to the intermediate S3 bucket and issues
 * `COPY <DataTableName> (<DataTableColumns>) FROM 's3://...' <CopyOptions>`. Eddy reads the same
 * bytes (the S3 object, or the batch's records concatenated as that object would hold them) with
 * the COPY options below and inserts the rows into the table over the PostgreSQL protocol, in one
 * transaction per batch, so that a batch loads entirely or not at all (MAXERROR aside).
 *
 * Connection: ClusterJDBCURL `jdbc:redshift://host:port/db` or `jdbc:postgresql://...`
 * (port defaults 5439 / 5432; `ssl=true` or `sslmode=require|verify-ca|verify-full` enable TLS),
 * Username, Password. Hosts under `.localhost` are the loopback address (RFC 6761), so the
 * model's pattern (`<name>.redshift.<domain>`) can point at a local server:
 * `jdbc:postgresql://pg.redshift.localhost:5432/dev`.
 *
 * COPY options understood (AWS "COPY parameter reference"):
 * - formats: pipe-delimited text (default), `DELIMITER [AS] 'c'`, `CSV [QUOTE [AS] 'q']`,
 *   `FORMAT [AS] CSV|JSON`, `JSON [AS] 'auto'` / `'auto ignorecase'` (keys matched to columns, by
 *   case or not; nested values load as JSON text);
 * - `GZIP` (the S3 object is gzip: S3Configuration.CompressionFormat GZIP);
 * - `IGNOREHEADER [AS] n`, `IGNOREBLANKLINES`, `FILLRECORD`, `REMOVEQUOTES`, `ESCAPE`,
 *   `NULL [AS] 'str'` (default `\N`), `EMPTYASNULL`, `BLANKSASNULL`, `TRIMBLANKS`,
 *   `TRUNCATECOLUMNS`, `MAXERROR [AS] n` (bad rows skipped up to n; each row then has its own
 *   savepoint), `ACCEPTINVCHARS [AS] ['c']`;
 * - `DATEFORMAT`/`TIMEFORMAT [AS] 'auto'|'<pattern>'` (patterns as PostgreSQL to_date/to_timestamp
 *   read them, which share Redshift's YYYY MM DD HH24 MI SS letters), TIMEFORMAT 'epochsecs' /
 *   'epochmillisecs'; timestamps without a zone are UTC;
 * - accepted and without effect here: COMPUPDATE, STATUPDATE, REGION, ROUNDEC, EXPLICIT_IDS,
 *   ACCEPTANYDATE, ENCODING UTF8, MANIFEST, SERIALIZETOJSON.
 * Not supported (Redshift.IncorrectCopyOptions): AVRO, PARQUET, ORC, FIXEDWIDTH, SHAPEFILE,
 * JSON 's3://jsonpaths' and 'noshred', BZIP2, LZOP, ZSTD.
 *
 * Errors carry Firehose's codes (AWS "Amazon Redshift data delivery errors"): TableNotFound,
 * ColumnNotFound, DatabaseNotFound, AuthenticationFailed, InsufficientPrivilege, MissingColumn,
 * DataLoadFailed, IncorrectCopyOptions, SyntaxError, ConnectionFailed, ReadOnlyCluster, DiskFull.
 * Connection-level failures are retried for RetryOptions.DurationInSeconds (default 3600 s);
 * the others cannot succeed on a retry of the same batch and fail at once.
 */
import { gunzipSync } from 'node:zlib';
import type { ClientConfig, Client as PgClient } from 'pg';
import { parseJsonSequence, stringifyJson, type JsonValue } from '../json-lossless.js';
import { DeliveryError } from './errors.js';
import { isLocalhostName } from './http-client.js';
import { type DeliveryMeta, requiredString, retryDurationMs, withRetries } from './retry.js';

export interface RedshiftDestinationConfig {
  ClusterJDBCURL: string;
  CopyCommand: { DataTableName: string; DataTableColumns?: string; CopyOptions?: string };
  Username?: string;
  Password?: string;
  RetryOptions?: { DurationInSeconds?: number };
}

/** The batch: its records, the S3 object's bytes, or the object's key with a way to read it. */
export type RedshiftInput = readonly Buffer[] | Buffer | { readonly key: string; read(): Promise<Buffer> };

export const RedshiftErrorCode = {
  TableNotFound: 'Redshift.TableNotFound',
  SyntaxError: 'Redshift.SyntaxError',
  AuthenticationFailed: 'Redshift.AuthenticationFailed',
  DataLoadFailed: 'Redshift.DataLoadFailed',
  ColumnNotFound: 'Redshift.ColumnNotFound',
  DatabaseNotFound: 'Redshift.DatabaseNotFound',
  IncorrectCopyOptions: 'Redshift.IncorrectCopyOptions',
  MissingColumn: 'Redshift.MissingColumn',
  ConnectionFailed: 'Redshift.ConnectionFailed',
  InsufficientPrivilege: 'Redshift.InsufficientPrivilege',
  ReadOnlyCluster: 'Redshift.ReadOnlyCluster',
  DiskFull: 'Redshift.DiskFull',
  InternalError: 'InternalError',
} as const;

// ---------------------------------------------------------------------------------------------
// Connection

export function jdbcToPgConfig(jdbcUrl: string, user: string | undefined, password: string | undefined): ClientConfig {
  const m = /^jdbc:(redshift|postgresql):\/\/(\[[^\]]+\]|[^/:?;]+)(?::(\d{1,5}))?\/([^?;/]+)(?:[?;](.*))?$/.exec(jdbcUrl.trim());
  if (!m) throw new DeliveryError(RedshiftErrorCode.ConnectionFailed, `ClusterJDBCURL '${jdbcUrl}' is not jdbc:redshift://host:port/database`, false);
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const params = new Map<string, string>();
  for (const kv of (m[5] ?? '').split(/[&;]/)) {
    const [k, v = ''] = kv.split('=');
    if (k) params.set(k.toLowerCase(), decodeURIComponent(v));
  }
  const sslmode = params.get('sslmode');
  const ssl = params.get('ssl') === 'true' || (sslmode !== undefined && sslmode !== 'disable' && sslmode !== 'allow' && sslmode !== 'prefer');
  return {
    host: isLocalhostName(host) ? '127.0.0.1' : host,
    port: Number(m[3] ?? (m[1] === 'redshift' ? 5439 : 5432)),
    database: decodeURIComponent(m[4]!),
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ssl ? { ssl: { rejectUnauthorized: sslmode === 'verify-ca' || sslmode === 'verify-full' } } : {}),
    connectionTimeoutMillis: 30_000,
  };
}

// ---------------------------------------------------------------------------------------------
// COPY options

export interface CopyOptions {
  format: 'text' | 'csv' | 'json';
  jsonIgnoreCase: boolean;
  delimiter: string;
  quote: string;
  gzip: boolean;
  ignoreHeader: number;
  ignoreBlankLines: boolean;
  fillRecord: boolean;
  removeQuotes: boolean;
  escape: boolean;
  nullAs: string;
  emptyAsNull: boolean;
  blanksAsNull: boolean;
  trimBlanks: boolean;
  truncateColumns: boolean;
  maxError: number;
  dateFormat: string | undefined;
  timeFormat: string | undefined;
}

type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'number'; text: string };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/[\s,]/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new DeliveryError(RedshiftErrorCode.SyntaxError, `unterminated quoted string in CopyOptions '${s}'`, false);
        if (s[i] === "'" && s[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (s[i] === '\\' && i + 1 < s.length) {
          text += s[i + 1] === "'" ? "'" : `\\${s[i + 1]}`;
          i += 2;
        } else if (s[i] === "'") {
          i++;
          break;
        } else text += s[i++];
      }
      out.push({ kind: 'string', text });
      continue;
    }
    const m = /^[A-Za-z0-9_.+-]+/.exec(s.slice(i));
    if (!m) throw new DeliveryError(RedshiftErrorCode.SyntaxError, `unexpected '${c}' in CopyOptions '${s}'`, false);
    out.push(/^\d+$/.test(m[0]) ? { kind: 'number', text: m[0] } : { kind: 'word', text: m[0].toUpperCase() });
    i += m[0].length;
  }
  return out;
}

export function parseCopyOptions(text: string | undefined): CopyOptions {
  const o: CopyOptions = {
    format: 'text',
    jsonIgnoreCase: false,
    delimiter: '|',
    quote: '"',
    gzip: false,
    ignoreHeader: 0,
    ignoreBlankLines: false,
    fillRecord: false,
    removeQuotes: false,
    escape: false,
    nullAs: '\\N',
    emptyAsNull: false,
    blanksAsNull: false,
    trimBlanks: false,
    truncateColumns: false,
    maxError: 0,
    dateFormat: undefined,
    timeFormat: undefined,
  };
  const t = tokenize(text ?? '');
  let delimiterSet = false;
  let i = 0;
  const incorrect = (msg: string): never => {
    throw new DeliveryError(RedshiftErrorCode.IncorrectCopyOptions, `CopyOptions '${text ?? ''}': ${msg}`, false);
  };
  const optAs = (): void => {
    if (t[i]?.kind === 'word' && t[i]!.text === 'AS') i++;
  };
  const str = (what: string): string => {
    optAs();
    const tok = t[i];
    if (tok?.kind !== 'string') return incorrect(`${what} needs a quoted value`);
    i++;
    return tok.text;
  };
  const num = (what: string): number => {
    optAs();
    const tok = t[i];
    if (tok?.kind !== 'number') return incorrect(`${what} needs a number`);
    i++;
    return Number(tok.text);
  };
  const json = (): void => {
    o.format = 'json';
    optAs();
    const tok = t[i];
    if (tok?.kind === 'string') {
      i++;
      const v = tok.text.trim().toLowerCase();
      if (v === 'auto') o.jsonIgnoreCase = false;
      else if (v === 'auto ignorecase') o.jsonIgnoreCase = true;
      else incorrect(`JSON '${tok.text}' is not supported by Eddy (only 'auto' and 'auto ignorecase')`);
    }
  };
  while (i < t.length) {
    const tok = t[i++]!;
    if (tok.kind !== 'word') return incorrect(`unexpected ${tok.kind === 'string' ? `'${tok.text}'` : tok.text}`);
    switch (tok.text) {
      case 'FORMAT': {
        optAs();
        const f = t[i++];
        if (f?.kind !== 'word') return incorrect('FORMAT needs a format name');
        if (f.text === 'CSV') o.format = 'csv';
        else if (f.text === 'JSON') json();
        else incorrect(`FORMAT ${f.text} is not supported by Eddy`);
        break;
      }
      case 'CSV':
        o.format = 'csv';
        if (t[i]?.kind === 'word' && t[i]!.text === 'QUOTE') {
          i++;
          o.quote = str('QUOTE');
        }
        break;
      case 'QUOTE':
        o.quote = str('QUOTE');
        break;
      case 'JSON':
        json();
        break;
      case 'DELIMITER':
        // Redshift reads '\t' as a tab and '\ooo' as an octal character code.
        o.delimiter = str('DELIMITER').replace(/^\\t$/, '\t').replace(/^\\([0-7]{3})$/, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
        delimiterSet = true;
        if (o.delimiter.length !== 1) incorrect('DELIMITER must be one character');
        break;
      case 'GZIP':
        o.gzip = true;
        break;
      case 'BZIP2':
      case 'LZOP':
      case 'ZSTD':
      case 'AVRO':
      case 'PARQUET':
      case 'ORC':
      case 'FIXEDWIDTH':
      case 'SHAPEFILE':
        return incorrect(`${tok.text} is not supported by Eddy`);
      case 'IGNOREHEADER':
        o.ignoreHeader = num('IGNOREHEADER');
        break;
      case 'IGNOREBLANKLINES':
        o.ignoreBlankLines = true;
        break;
      case 'FILLRECORD':
        o.fillRecord = true;
        break;
      case 'REMOVEQUOTES':
        o.removeQuotes = true;
        break;
      case 'ESCAPE':
        o.escape = true;
        break;
      case 'NULL':
        o.nullAs = str('NULL AS');
        break;
      case 'EMPTYASNULL':
        o.emptyAsNull = true;
        break;
      case 'BLANKSASNULL':
        o.blanksAsNull = true;
        break;
      case 'TRIMBLANKS':
        o.trimBlanks = true;
        break;
      case 'TRUNCATECOLUMNS':
        o.truncateColumns = true;
        break;
      case 'MAXERROR':
        o.maxError = num('MAXERROR');
        break;
      case 'ACCEPTINVCHARS':
        optAs();
        if (t[i]?.kind === 'string') i++;
        break;
      case 'DATEFORMAT':
        o.dateFormat = str('DATEFORMAT');
        break;
      case 'TIMEFORMAT':
        o.timeFormat = str('TIMEFORMAT');
        break;
      case 'REGION':
      case 'ENCODING':
        optAs();
        i++;
        break;
      case 'COMPUPDATE':
      case 'STATUPDATE':
        if (t[i]?.kind === 'word' && /^(ON|OFF|TRUE|FALSE|PRESET)$/.test(t[i]!.text)) i++;
        break;
      case 'ROUNDEC':
      case 'EXPLICIT_IDS':
      case 'ACCEPTANYDATE':
      case 'MANIFEST':
      case 'SERIALIZETOJSON':
        break;
      default:
        return incorrect(`unknown option ${tok.text}`);
    }
  }
  if (o.format === 'csv') {
    if (!delimiterSet) o.delimiter = ',';
    if (o.removeQuotes || o.escape) incorrect('CSV cannot be used with REMOVEQUOTES or ESCAPE');
  }
  if (o.format === 'json' && (delimiterSet || o.removeQuotes || o.escape || o.fillRecord || o.ignoreHeader > 0)) {
    incorrect('JSON cannot be used with DELIMITER, REMOVEQUOTES, ESCAPE, FILLRECORD or IGNOREHEADER');
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Reading the data

/** One input row: field values as text (null = SQL NULL), plus whether each was quoted (CSV). */
interface Row {
  line: number;
  values: (string | null)[];
  quoted: boolean[];
  /** A row that could not be read (counts against MAXERROR). */
  error?: string;
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last record
  return lines;
}

function readText(text: string, o: CopyOptions): Row[] {
  const rows: Row[] = [];
  // ESCAPE: a backslash before a newline keeps it in the field, so split on unescaped newlines.
  const records: string[] = [];
  if (o.escape) {
    let cur = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\' && i + 1 < text.length) {
        cur += c + text[i + 1];
        i++;
      } else if (c === '\n') {
        records.push(cur.replace(/\r$/, ''));
        cur = '';
      } else cur += c;
    }
    if (cur !== '') records.push(cur.replace(/\r$/, ''));
  } else records.push(...splitLines(text));
  records.forEach((rec, idx) => {
    if (idx < o.ignoreHeader) return;
    if (rec === '' && o.ignoreBlankLines) return;
    const values: (string | null)[] = [];
    const quoted: boolean[] = [];
    let cur = '';
    // The field as written, before escapes and quotes: what NULL AS compares with.
    let raw = '';
    let inQuotes = false;
    let wasQuoted = false;
    const endField = (): void => {
      values.push(raw === o.nullAs ? null : cur);
      quoted.push(wasQuoted);
      cur = '';
      raw = '';
      wasQuoted = false;
    };
    for (let i = 0; i < rec.length; i++) {
      const c = rec[i]!;
      if (o.escape && c === '\\' && i + 1 < rec.length) {
        const n = rec[++i]!;
        raw += c + n;
        // Redshift ESCAPE: the character after a backslash is loaded as it is (a delimiter, a
        // quote, a newline, a backslash), never as a C-style escape.
        cur += n;
        continue;
      }
      raw += c;
      if (o.removeQuotes && c === '"') {
        inQuotes = !inQuotes;
        wasQuoted = true;
        continue;
      }
      if (c === o.delimiter && !inQuotes) {
        raw = raw.slice(0, -1);
        endField();
        continue;
      }
      cur += c;
    }
    endField();
    rows.push({ line: idx + 1, values, quoted });
  });
  return rows;
}

function readCsv(text: string, o: CopyOptions): Row[] {
  const rows: Row[] = [];
  let values: (string | null)[] = [];
  let quoted: boolean[] = [];
  let cur = '';
  let inQuotes = false;
  let wasQuoted = false;
  let line = 1;
  let recordLine = 1;
  let atFieldStart = true;
  const endField = (): void => {
    values.push(!wasQuoted && cur === o.nullAs ? null : cur);
    quoted.push(wasQuoted);
    cur = '';
    wasQuoted = false;
    atFieldStart = true;
  };
  const endRecord = (): void => {
    endField();
    const blank = values.length === 1 && values[0] === '' && !quoted[0];
    if (!(blank && o.ignoreBlankLines)) rows.push({ line: recordLine, values, quoted });
    values = [];
    quoted = [];
    recordLine = line;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === o.quote) {
        if (text[i + 1] === o.quote) {
          cur += c;
          i++;
        } else inQuotes = false;
      } else {
        if (c === '\n') line++;
        cur += c;
      }
      continue;
    }
    if (c === o.quote && atFieldStart) {
      inQuotes = true;
      wasQuoted = true;
      atFieldStart = false;
      continue;
    }
    if (c === o.delimiter) {
      endField();
      continue;
    }
    if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      line++;
      endRecord();
      continue;
    }
    cur += c;
    atFieldStart = false;
  }
  if (inQuotes) rows.push({ line: recordLine, values: [], quoted: [], error: 'unterminated quoted field' });
  else if (cur !== '' || values.length > 0 || wasQuoted) endRecord();
  return rows.slice(o.ignoreHeader);
}

// ---------------------------------------------------------------------------------------------
// Loading

interface Column {
  name: string;
  type: string;
  /** pg_type.typcategory: S string, N numeric, D date/time, B boolean, ... */
  category: string;
  maxLength: number | undefined;
  notNull: boolean;
  hasDefault: boolean;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` / `"Quoted".table` as a quoted identifier; unquoted parts fold to lower case as in Redshift. */
export function tableIdentifier(name: string): string {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))\s*(\.|$)/y;
  let i = 0;
  while (i < name.length) {
    re.lastIndex = i;
    const m = re.exec(name);
    if (!m) throw new DeliveryError(RedshiftErrorCode.SyntaxError, `DataTableName '${name}' is not a table name`, false);
    parts.push(quoteIdent(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.toLowerCase()));
    i = re.lastIndex;
    if (m[3] === '') break;
  }
  if (parts.length === 0 || parts.length > 3) throw new DeliveryError(RedshiftErrorCode.SyntaxError, `DataTableName '${name}' is not a table name`, false);
  return parts.join('.');
}

function columnList(text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split(',').map((c) => {
    const s = c.trim();
    return /^".*"$/.test(s) ? s.slice(1, -1).replace(/""/g, '"') : s.toLowerCase();
  });
}

async function tableColumns(client: PgClient, table: string): Promise<Column[]> {
  const r = await client.query<{ name: string; type: string; category: string; notnull: boolean; hasdefault: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category,
            a.attnotnull AS notnull, a.atthasdef AS hasdefault
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  return r.rows.map((c) => {
    const len = /^(?:character varying|character|varchar|char)\((\d+)\)$/.exec(c.type);
    return { name: c.name, type: c.type, category: c.category, maxLength: len ? Number(len[1]) : undefined, notNull: c.notnull, hasDefault: c.hasdefault };
  });
}

/** A field's text as the SQL parameter for its column, per the COPY conversion options. */
function fieldValue(v: string | null, quotedField: boolean, col: Column, o: CopyOptions): string | null {
  if (v === null) return null;
  let s = v;
  if (col.category === 'S') {
    if (o.trimBlanks) s = s.replace(/ +$/, '');
    if (s === '' && !quotedField && o.emptyAsNull) return null;
    if (o.blanksAsNull && s.trim() === '' && s !== '') return null;
    if (o.truncateColumns && col.maxLength !== undefined && s.length > col.maxLength) s = Array.from(s).slice(0, col.maxLength).join('');
    return s;
  }
  // Redshift loads empty fields of non-character columns as NULL.
  if (s.trim() === '') return null;
  return s;
}

function jsonFieldText(v: JsonValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return stringifyJson(v);
}

/** The SQL expression that reads parameter `$n` into the column. */
function paramExpr(n: number, col: Column, o: CopyOptions): string {
  const p = `$${n}`;
  if (col.category !== 'D') return p;
  const isDate = col.type === 'date';
  const fmt = isDate ? o.dateFormat : (o.timeFormat ?? o.dateFormat);
  if (fmt === undefined || fmt.toLowerCase() === 'auto') return p;
  const lit = `'${fmt.replace(/'/g, "''")}'`;
  if (!isDate && fmt.toLowerCase() === 'epochsecs') return `to_timestamp(${p}::double precision)::${col.type}`;
  if (!isDate && fmt.toLowerCase() === 'epochmillisecs') return `to_timestamp(${p}::double precision / 1000)::${col.type}`;
  return isDate ? `to_date(${p}, ${lit})` : `to_timestamp(${p}, ${lit})::${col.type}`;
}

function mapPgError(e: unknown, context: { columns: readonly Column[]; table: string }): DeliveryError {
  const err = e as { code?: string; message?: string; column?: string };
  const msg = err?.message ?? String(e);
  const code = err?.code ?? '';
  if (code === '42P01') return new DeliveryError(RedshiftErrorCode.TableNotFound, `The table to which to load data was not found (${context.table}): ${msg}`, false, { cause: e });
  if (code === '42703') return new DeliveryError(RedshiftErrorCode.ColumnNotFound, `A column in the COPY command does not exist in the table: ${msg}`, false, { cause: e });
  if (code === '3D000') return new DeliveryError(RedshiftErrorCode.DatabaseNotFound, `The database specified in the JDBC URL was not found: ${msg}`, false, { cause: e });
  if (code === '28P01' || code === '28000') return new DeliveryError(RedshiftErrorCode.AuthenticationFailed, `The provided user name and password failed authentication: ${msg}`, false, { cause: e });
  if (code === '42501') return new DeliveryError(RedshiftErrorCode.InsufficientPrivilege, `The user does not have permissions to load data into the table: ${msg}`, false, { cause: e });
  if (code === '42601') return new DeliveryError(RedshiftErrorCode.SyntaxError, `The COPY command contains a syntax error: ${msg}`, false, { cause: e });
  if (code === '25006') return new DeliveryError(RedshiftErrorCode.ReadOnlyCluster, msg, true, { cause: e });
  if (code === '53100') return new DeliveryError(RedshiftErrorCode.DiskFull, msg, true, { cause: e });
  if (code === '23502' && err.column !== undefined && !context.columns.some((c) => c.name === err.column)) {
    return new DeliveryError(
      RedshiftErrorCode.MissingColumn,
      `There is a column defined in the table schema as NOT NULL without a DEFAULT value and not included in the column list (${err.column}).`,
      false,
      { cause: e },
    );
  }
  if (code.startsWith('22') || code.startsWith('23')) return new DeliveryError(RedshiftErrorCode.DataLoadFailed, `Loading data into the table failed: ${msg}`, false, { cause: e });
  if (code.startsWith('08') || code === '57P01' || code === '57P03' || code === '' || /ECONNREFUSED|ETIMEDOUT|ENOTFOUND|ECONNRESET|timeout|terminated/i.test(msg)) {
    return new DeliveryError(RedshiftErrorCode.ConnectionFailed, `The connection to the specified Amazon Redshift cluster failed: ${msg}`, true, { cause: e });
  }
  return new DeliveryError(RedshiftErrorCode.InternalError, msg, true, { cause: e });
}

const MAX_PARAMS = 60_000;

export async function deliverRedshift(config: RedshiftDestinationConfig | Readonly<Record<string, unknown>>, input: RedshiftInput, meta: DeliveryMeta): Promise<void> {
  const c = config as Readonly<Record<string, unknown>>;
  const jdbc = requiredString(c, 'ClusterJDBCURL', RedshiftErrorCode.ConnectionFailed);
  const tableName = requiredString(c, 'CopyCommand.DataTableName', RedshiftErrorCode.TableNotFound);
  const cfg = config as RedshiftDestinationConfig;
  const options = parseCopyOptions(cfg.CopyCommand.CopyOptions);
  const table = tableIdentifier(tableName);
  const wantedColumns = columnList(cfg.CopyCommand.DataTableColumns);
  const pgConfig = jdbcToPgConfig(jdbc, cfg.Username, cfg.Password);

  let data: Buffer;
  let isObject = false;
  if (Buffer.isBuffer(input)) {
    data = input;
    isObject = true;
  } else if (Array.isArray(input)) data = Buffer.concat(input as readonly Buffer[]);
  else {
    const ref = input as { key: string; read(): Promise<Buffer> };
    data = await ref.read();
    isObject = true;
  }
  const gz = data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
  if (options.gzip && gz) {
    try {
      data = gunzipSync(data);
    } catch (e) {
      throw new DeliveryError(RedshiftErrorCode.DataLoadFailed, `GZIP: the data could not be decompressed: ${(e as Error).message}`, false);
    }
  } else if (options.gzip && isObject && data.length > 0) {
    throw new DeliveryError(RedshiftErrorCode.DataLoadFailed, 'GZIP is among the COPY options but the S3 object is not gzip', false);
  }
  const text = data.toString('utf8');
  // Firehose issues no COPY for an empty object.
  if (text.trim() === '') return;

  const { Client } = (await import('pg')).default;
  await withRetries(
    meta,
    retryDurationMs(cfg, meta, 3600),
    async () => {
      const client = new Client(pgConfig);
      let columns: Column[] = [];
      try {
        await client.connect();
        const all = await tableColumns(client, table);
        if (wantedColumns !== undefined) {
          columns = wantedColumns.map((n) => {
            const col = all.find((x) => x.name === n);
            if (!col) throw new DeliveryError(RedshiftErrorCode.ColumnNotFound, `A column in the COPY command does not exist in the table: column "${n}" of ${tableName}`, false);
            return col;
          });
        } else columns = all;
        await load(client, table, columns, text, options);
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e instanceof DeliveryError ? e : mapPgError(e, { columns, table: tableName });
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    300_000,
  );
}

async function load(client: PgClient, table: string, columns: readonly Column[], text: string, o: CopyOptions): Promise<void> {
  // The rows, each as parameter values in column order, or a reason it cannot load.
  const rows: { line: number; params?: (string | null)[]; error?: string }[] = [];
  if (o.format === 'json') {
    let docs: JsonValue[];
    try {
      docs = parseJsonSequence(text);
    } catch (e) {
      throw new DeliveryError(RedshiftErrorCode.DataLoadFailed, `Loading data into the table failed: invalid JSON: ${(e as Error).message}`, false);
    }
    docs.forEach((doc, k) => {
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        rows.push({ line: k + 1, error: 'a JSON record is not an object' });
        return;
      }
      const keys = new Map<string, JsonValue>();
      for (const [key, v] of Object.entries(doc)) keys.set(o.jsonIgnoreCase ? key.toLowerCase() : key, v);
      rows.push({
        line: k + 1,
        params: columns.map((col) => {
          const v = keys.get(o.jsonIgnoreCase ? col.name.toLowerCase() : col.name);
          const t = jsonFieldText(v);
          return t === null ? null : fieldValue(t, false, col, o);
        }),
      });
    });
  } else {
    for (const r of o.format === 'csv' ? readCsv(text, o) : readText(text, o)) {
      if (r.error !== undefined) {
        rows.push({ line: r.line, error: r.error });
        continue;
      }
      let values = r.values;
      let quoted = r.quoted;
      if (values.length < columns.length && o.fillRecord) {
        values = [...values, ...new Array<null>(columns.length - values.length).fill(null)];
        quoted = [...quoted, ...new Array<boolean>(columns.length - quoted.length).fill(false)];
      }
      if (values.length !== columns.length) {
        rows.push({ line: r.line, error: values.length < columns.length ? 'Delimiter not found' : `Extra column(s) found (${values.length} fields for ${columns.length} columns)` });
        continue;
      }
      rows.push({ line: r.line, params: values.map((v, k) => fieldValue(v, quoted[k]!, columns[k]!, o)) });
    }
  }

  let errors = rows.filter((r) => r.error !== undefined);
  if (errors.length > o.maxError) {
    const first = errors[0]!;
    throw new DeliveryError(RedshiftErrorCode.DataLoadFailed, `Loading data into the table failed: line ${first.line}: ${first.error} (${errors.length} error(s), MAXERROR ${o.maxError})`, false);
  }
  const good = rows.filter((r) => r.params !== undefined) as { line: number; params: (string | null)[] }[];
  const cols = columns.map((c) => quoteIdent(c.name)).join(', ');
  await client.query('BEGIN');
  await client.query("SET LOCAL TIME ZONE 'UTC'");
  if (o.maxError === 0) {
    const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, columns.length)));
    for (let start = 0; start < good.length; start += per) {
      const chunk = good.slice(start, start + per);
      const params: (string | null)[] = [];
      const tuples = chunk.map((r) => `(${r.params.map((v, k) => (params.push(v), paramExpr(params.length, columns[k]!, o))).join(', ')})`);
      if (columns.length === 0) continue;
      await client.query(`INSERT INTO ${table} (${cols}) VALUES ${tuples.join(', ')}`, params);
    }
  } else {
    // With MAXERROR each row has a savepoint, so a bad one is skipped without losing the others.
    let failed = errors.length;
    for (const r of good) {
      await client.query('SAVEPOINT eddy_row');
      try {
        await client.query(`INSERT INTO ${table} (${cols}) VALUES (${r.params.map((_, k) => paramExpr(k + 1, columns[k]!, o)).join(', ')})`, r.params);
        await client.query('RELEASE SAVEPOINT eddy_row');
      } catch (e) {
        await client.query('ROLLBACK TO SAVEPOINT eddy_row');
        const code = (e as { code?: string }).code ?? '';
        if (!code.startsWith('22') && !code.startsWith('23')) throw e;
        failed++;
        errors = [...errors, { line: r.line, error: (e as Error).message }];
        if (failed > o.maxError) {
          throw new DeliveryError(RedshiftErrorCode.DataLoadFailed, `Loading data into the table failed: line ${r.line}: ${(e as Error).message} (${failed} error(s), MAXERROR ${o.maxError})`, false);
        }
      }
    }
  }
  await client.query('COMMIT');
}
