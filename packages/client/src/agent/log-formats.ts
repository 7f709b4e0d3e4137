// LOGTOJSON's log formats. The building blocks, the patterns and the field names follow the
// Kinesis Agent's PatternConstants, ApacheLogParser and SysLogParser (awslabs/amazon-kinesis-agent,
// processing/parsers/), which are grok's patterns of the same names; they are written out here as
// JavaScript regular expressions. Java's Matcher.matches() needs the whole record to match, so every
// pattern is anchored at both ends.
//
// RFC3164SYSLOG and RFC5424SYSLOG are not formats of the Java agent (it has SYSLOG, which AWS's
// documentation calls "RFC3164 Syslog", and RFC3339SYSLOG); they are Eddy's, documented below.

const INT = '(?:[+-]?(?:[0-9]+))';
const POSINT = '(?:[1-9][0-9]*)';
const NONNEGINT = '(?:[0-9]+)';
const ANYDATA = '.*';
const WORD = '\\w+';
const NOQUOTE = '[^"]+';
const IP = '(?:[\\d\\.]+)';
const HOSTNAME = '(?:[\\w\\-]+)(?:\\.(?:[\\w\\-]+))*(?:\\.?|\\b)';
const IPORHOST = `(?:${HOSTNAME}|${IP})`;
const URIHOST = `(?:${IPORHOST}(?::${POSINT})?)`;
const USER = '(?:[a-zA-Z0-9._-]+)';
const MONTHDAY = '(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])';
const DAY = '(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)';
const MONTH =
  '\\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\\b';
const YEAR = '(?:[1-9]\\d*)';
const HOUR = '(?:2[0123]|[01]?[0-9])';
const MINUTE = '(?:[0-5][0-9])';
const SECOND = '(?:(?:[0-5]?[0-9]|60)(?:[:\\.,][0-9]+)?)';
const TIME = `(?:${HOUR}:${MINUTE}:${SECOND})`;
const HTTPDATE = `(?:${MONTHDAY}/${MONTH}/${YEAR}:${TIME}\\s${INT})`;
const APACHEERRORLOGTIMESTAMP = `(?:${DAY}\\s+${MONTH}\\s+${MONTHDAY}\\s+${TIME}\\s+${YEAR})`;
const SYSLOGTIMESTAMP = `(?:${MONTH}\\s+${MONTHDAY}\\s+${TIME})`;
const RFC3339 = '(?:\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?)(?:Z|(?:[-+]\\d{2}:\\d{2}))';
// The agent's "<facility.priority>" (BSD syslogd's print format); its '.' is unescaped there too.
const SYSLOGFACILITY = `<${NONNEGINT}.${NONNEGINT}>`;
const PROG = '([\\w\\._/%-]+)';
const SYSLOGPROG = `${PROG}(?:\\[(${POSINT})\\])?`;

const COMMON_APACHE_LOG =
  `^(${IPORHOST}) (${USER}) (${USER}) \\[(${HTTPDATE})\\] "(${NOQUOTE})" (${INT}|\\-) (${INT}|\\-)`;
const COMBINED_APACHE_LOG = `${COMMON_APACHE_LOG} "(${NOQUOTE})" "(${NOQUOTE})"`;
const APACHE_ERROR_LOG =
  `^\\[(${APACHEERRORLOGTIMESTAMP})\\] \\[(?:(${WORD}):)?(${WORD})\\] ` +
  `\\[pid (${NONNEGINT})(?::tid (${NONNEGINT}))?\\] \\[client (${URIHOST})\\] (${ANYDATA})`;
const SYSLOG_BODY = `(?:${SYSLOGFACILITY} )?(${USER}) ${SYSLOGPROG}: (${ANYDATA})`;
const SYSLOG_BASE = `^(${SYSLOGTIMESTAMP}) ${SYSLOG_BODY}`;
const RFC3339_SYSLOG_BASE = `^(${RFC3339}) ${SYSLOG_BODY}`;
// RFC 3164 section 4.1 as files keep it: the "<PRI>" that syslog daemons drop before writing is
// accepted when present, the rest is the agent's SYSLOG.
const RFC3164_SYSLOG = `^(?:<\\d{1,3}>)?(${SYSLOGTIMESTAMP}) ${SYSLOG_BODY}`;
// RFC 5424 section 6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
// STRUCTURED-DATA [SP MSG]; "-" is the NILVALUE. MSG may start with a UTF-8 BOM (dropped).
const RFC5424_TIMESTAMP = '-|\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,6})?(?:Z|[+-]\\d{2}:\\d{2})';
const RFC5424_SD = '-|(?:\\[[^\\s\\]=]+(?: [^\\s\\]=]+="(?:[^"\\\\\\]]|\\\\.)*")*\\])+';
const RFC5424_SYSLOG =
  `^<(\\d{1,3})>([1-9]\\d?) (${RFC5424_TIMESTAMP}) (\\S{1,255}) (\\S{1,48}) (\\S{1,128}) (\\S{1,32}) ` +
  `(${RFC5424_SD})(?: \\uFEFF?(${ANYDATA}))?`;

export const LogFormat = {
  COMMONAPACHELOG: 'COMMONAPACHELOG',
  COMBINEDAPACHELOG: 'COMBINEDAPACHELOG',
  APACHEERRORLOG: 'APACHEERRORLOG',
  SYSLOG: 'SYSLOG',
  RFC3164SYSLOG: 'RFC3164SYSLOG',
  RFC3339SYSLOG: 'RFC3339SYSLOG',
  RFC5424SYSLOG: 'RFC5424SYSLOG',
} as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

/** How a matched value becomes a JSON value: the agent's Apache parser turns "-" into null. */
type NilRule = 'dash-is-null' | 'as-is';

interface FormatSpec {
  readonly pattern: string;
  readonly fields: readonly string[];
  readonly nil: NilRule;
}

const COMMON_FIELDS = ['host', 'ident', 'authuser', 'datetime', 'request', 'response', 'bytes'] as const;
const SYSLOG_FIELDS = ['timestamp', 'hostname', 'program', 'processid', 'message'] as const;

export const logFormats: { readonly [K in LogFormat]: FormatSpec } = {
  COMMONAPACHELOG: { pattern: `${COMMON_APACHE_LOG}.*`, fields: COMMON_FIELDS, nil: 'dash-is-null' },
  COMBINEDAPACHELOG: { pattern: `${COMBINED_APACHE_LOG}.*`, fields: [...COMMON_FIELDS, 'referer', 'agent'], nil: 'dash-is-null' },
  APACHEERRORLOG: {
    pattern: APACHE_ERROR_LOG,
    fields: ['timestamp', 'module', 'severity', 'processid', 'threadid', 'client', 'message'],
    nil: 'dash-is-null',
  },
  SYSLOG: { pattern: SYSLOG_BASE, fields: SYSLOG_FIELDS, nil: 'as-is' },
  RFC3164SYSLOG: { pattern: RFC3164_SYSLOG, fields: SYSLOG_FIELDS, nil: 'as-is' },
  RFC3339SYSLOG: { pattern: RFC3339_SYSLOG_BASE, fields: SYSLOG_FIELDS, nil: 'as-is' },
  // Field names extend the agent's syslog names (timestamp, hostname, program, processid, message)
  // with the RFC 5424 header parts; NILVALUEs become null.
  RFC5424SYSLOG: {
    pattern: RFC5424_SYSLOG,
    fields: ['priority', 'version', 'timestamp', 'hostname', 'program', 'processid', 'messageid', 'structureddata', 'message'],
    nil: 'dash-is-null',
  },
};

/** Number of capturing groups in a JavaScript pattern. */
export function groupCount(re: RegExp): number {
  return (new RegExp(`${re.source}|`, re.flags.replace(/[gy]/g, '')).exec('')?.length ?? 1) - 1;
}

export type LogRecord = Record<string, string | null>;

export interface LogParser {
  readonly fields: readonly string[];
  /** The fields of a record, or undefined when the record does not match (the agent skips it). */
  parse(record: string): LogRecord | undefined;
}

export interface LogParserOptions {
  logFormat: LogFormat;
  matchPattern?: string | undefined;
  customFieldNames?: readonly string[] | undefined;
}

/**
 * A parser as the agent's BaseLogParser builds it: `matchPattern` replaces the format's pattern
 * (and then needs `customFieldNames`); `customFieldNames` alone renames the format's fields. Throws
 * a RangeError naming the option when the two disagree (the agent finds out record by record and
 * drops every record; failing at start is kinder).
 */
export function createLogParser(o: LogParserOptions): LogParser {
  const spec = logFormats[o.logFormat];
  let re: RegExp;
  let fields: readonly string[];
  if (o.matchPattern !== undefined) {
    if (o.customFieldNames === undefined) throw new RangeError('customFieldNames must be specified when matchPattern is specified');
    try {
      // Java's matches(): the whole record.
      re = new RegExp(`^(?:${o.matchPattern})$`);
    } catch (e) {
      throw new RangeError(`matchPattern is not a valid regular expression: ${(e as Error).message}`);
    }
    fields = o.customFieldNames;
    const n = groupCount(re);
    if (n !== fields.length) {
      throw new RangeError(`matchPattern has ${n} capturing groups but customFieldNames names ${fields.length} fields`);
    }
  } else {
    re = new RegExp(`^(?:${spec.pattern})$`);
    fields = spec.fields;
    if (o.customFieldNames !== undefined) {
      if (o.customFieldNames.length !== spec.fields.length) {
        throw new RangeError(
          `customFieldNames has ${o.customFieldNames.length} names but ${o.logFormat} has ${spec.fields.length} fields (${spec.fields.join(', ')}); ` +
            'change the names or give a matchPattern',
        );
      }
      fields = o.customFieldNames;
    }
  }
  const dashIsNull = o.matchPattern === undefined ? spec.nil === 'dash-is-null' : isApache(o.logFormat);
  return {
    fields,
    parse(record: string): LogRecord | undefined {
      const m = re.exec(record);
      if (m === null) return undefined;
      const out: LogRecord = {};
      for (let i = 0; i < fields.length; i++) {
        const v = m[i + 1];
        out[fields[i] as string] = v === undefined || (dashIsNull && v === '-') ? null : v;
      }
      return out;
    },
  };
}

// With a matchPattern the agent still picks the parser class by logFormat, and only the Apache
// parser maps "-" to null.
function isApache(f: LogFormat): boolean {
  return f === 'COMMONAPACHELOG' || f === 'COMBINEDAPACHELOG' || f === 'APACHEERRORLOG';
}
