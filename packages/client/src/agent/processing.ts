// dataProcessingOptions: the Kinesis Agent's data converters (processing/processors/ in
// awslabs/amazon-kinesis-agent), applied in order to each record. A record reaches the chain as the
// bytes read from the file, terminator included; the JSON-producing converters end their output with
// "\n" as the agent's do, so records stay newline-delimited at the destination.
import { createLogParser, type LogFormat, type LogParser } from './log-formats.js';

export const DataProcessingOption = {
  SINGLELINE: 'SINGLELINE',
  CSVTOJSON: 'CSVTOJSON',
  LOGTOJSON: 'LOGTOJSON',
  ADDBRACKETS: 'ADDBRACKETS',
  ADDMETADATA: 'ADDMETADATA',
  ADDEOL: 'ADDEOL',
} as const;
export type DataProcessingOption = (typeof DataProcessingOption)[keyof typeof DataProcessingOption];

export const JsonFormat = { COMPACT: 'COMPACT', PRETTYPRINT: 'PRETTYPRINT' } as const;
export type JsonFormat = (typeof JsonFormat)[keyof typeof JsonFormat];

export type ProcessingOptionConfig =
  | { optionName: 'SINGLELINE'; parseOptions: readonly ('NO_TRIM' | 'ESCAPE_NEW_LINE')[] }
  | { optionName: 'CSVTOJSON'; customFieldNames: readonly string[]; delimiter: string; jsonFormat: JsonFormat }
  | {
      optionName: 'LOGTOJSON';
      logFormat: LogFormat;
      matchPattern?: string | undefined;
      customFieldNames?: readonly string[] | undefined;
      jsonFormat: JsonFormat;
    }
  | { optionName: 'ADDBRACKETS' }
  | { optionName: 'ADDMETADATA'; metadata: JsonValue; timestamp: boolean; jsonFormat: JsonFormat }
  | { optionName: 'ADDEOL' };

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** Turns a record into its converted form, or null to drop it (LOGTOJSON on a line that does not match). */
export type Converter = (data: Buffer) => Buffer | null;

const NEW_LINE = '\n';

/** A chain of converters; the identity when there are none. */
export function createConverterChain(options: readonly ProcessingOptionConfig[], now: () => number = Date.now): Converter {
  const converters = options.map((o) => createConverter(o, now));
  if (converters.length === 0) return (d) => d;
  return (data) => {
    let out: Buffer | null = data;
    for (const c of converters) {
      out = c(out);
      if (out === null) return null;
    }
    return out;
  };
}

export function createConverter(o: ProcessingOptionConfig, now: () => number = Date.now): Converter {
  switch (o.optionName) {
    case 'SINGLELINE': {
      const noTrim = o.parseOptions.includes('NO_TRIM');
      // The agent joins with ESCAPE_NEW_LINE's "\n" as two characters, so the result stays one line.
      const joiner = o.parseOptions.includes('ESCAPE_NEW_LINE') ? '\\n' : '';
      return (data) => {
        let lines = javaSplit(data.toString('utf8'), /\n/g);
        if (!noTrim) lines = lines.map(javaTrim);
        return Buffer.from(lines.join(joiner) + NEW_LINE, 'utf8');
      };
    }
    case 'CSVTOJSON': {
      let delimiter: RegExp;
      try {
        // The agent splits with String.split(delimiter): the delimiter is a regular expression ("\\t" is a tab).
        delimiter = new RegExp(o.delimiter, 'g');
      } catch (e) {
        throw new RangeError(`delimiter is not a valid regular expression: ${(e as Error).message}`);
      }
      const print = printer(o.jsonFormat);
      return (data) => {
        const columns = javaSplit(stripEol(data.toString('utf8')), delimiter);
        const out: Record<string, string | null> = {};
        o.customFieldNames.forEach((name, i) => {
          out[name] = columns[i] ?? null;
        });
        return Buffer.from(print(out) + NEW_LINE, 'utf8');
      };
    }
    case 'LOGTOJSON': {
      const parser: LogParser = createLogParser(o);
      const print = printer(o.jsonFormat);
      return (data) => {
        const fields = parser.parse(stripEol(data.toString('utf8')));
        return fields === undefined ? null : Buffer.from(print(fields) + NEW_LINE, 'utf8');
      };
    }
    case 'ADDBRACKETS':
      // As the agent does: everything, terminator included, between the braces.
      return (data) => Buffer.concat([OPEN_BRACE, data, CLOSE_BRACE]);
    case 'ADDMETADATA': {
      const print = printer(o.jsonFormat);
      return (data) => {
        const out: Record<string, JsonValue> = {};
        if (o.timestamp) out['ts'] = new Date(now()).toISOString();
        out['metadata'] = o.metadata;
        out['data'] = stripEol(data.toString('utf8'));
        return Buffer.from(print(out) + NEW_LINE, 'utf8');
      };
    }
    case 'ADDEOL':
      // Eddy's: end the record with "\n" unless it already ends with one (after ADDBRACKETS, say).
      return (data) => (data.length > 0 && data[data.length - 1] === 0x0a ? data : Buffer.concat([data, EOL]));
  }
}

const OPEN_BRACE = Buffer.from('{');
const CLOSE_BRACE = Buffer.from('}');
const EOL = Buffer.from('\n');

/**
 * Drops the record's terminator before parsing. The agent drops only "\n"; a "\r" before it is
 * dropped too, since Java's "." does not match it and CRLF files would otherwise never parse.
 */
function stripEol(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

/** Java's String.trim(): every char <= U+0020 at either end. */
export function javaTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) <= 0x20) a++;
  while (b > a && s.charCodeAt(b - 1) <= 0x20) b--;
  return s.slice(a, b);
}

/**
 * Java's String.split(regex): no leading empty string for a zero-width match at 0, the input itself
 * when nothing matches, trailing empty strings removed. `re` must have the g flag.
 */
export function javaSplit(s: string, re: RegExp): string[] {
  const out: string[] = [];
  let index = 0;
  let matched = false;
  re.lastIndex = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const start = m.index;
    const end = start + m[0].length;
    if (m[0].length === 0) {
      re.lastIndex = start + 1;
      if (start === 0 || start >= s.length) continue;
    }
    matched = true;
    out.push(s.slice(index, start));
    index = end;
  }
  if (!matched) return [s];
  out.push(s.slice(index));
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

type Printer = (v: Record<string, JsonValue>) => string;

function printer(f: JsonFormat): Printer {
  return f === 'PRETTYPRINT' ? (v) => pretty(v, '') : (v) => JSON.stringify(v);
}

/** Jackson's DefaultPrettyPrinter layout, which the agent's PRETTYPRINT uses: `"k" : v`, two-space indents. */
function pretty(v: JsonValue, indent: string): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[ ]';
    return `[ ${v.map((x) => pretty(x, indent)).join(', ')} ]`;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return '{ }';
    const inner = `${indent}  `;
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)} : ${pretty(v[k] as JsonValue, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}
