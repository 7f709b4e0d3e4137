/**
 * AWS Signature Version 4 verification (header and presigned-query forms) and the credentials file
 * that says which keys exist.
 *
 * Checks run in the order AWS runs them, so that a request with several faults gets the error AWS
 * would give (checklist section 1.1; ordering from kinesalite's tests against real Kinesis and
 * from dacut/scratchstack-aws-signature's "AWS Auth Error Ordering"):
 *
 *   parseAuth:   header vs query present (both / neither) -> required pieces -> algorithm ->
 *                'host' signed -> date format -> X-Amz-Expires format
 *   verifySigV4: parseAuth -> clock skew / presign expiry -> credential shape -> credential scope
 *                -> key lookup -> signature
 *
 * Canonicalisation follows the SigV4 rules for services other than S3, and where the rules leave
 * room, does what @smithy/signature-v4 (the signer inside every JS SDK client) does, because that
 * is what produced the signatures we check.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors } from '../core/errors.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
}

export interface SignedRequest {
  method: string;
  /** The raw request target as received, query string included: '/?X-Amz-Algorithm=...'. */
  path: string;
  /** Lower-case names as node gives them; HTTP/2 pseudo-headers (':authority') may be present. */
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

export interface AuthInfo {
  /** Undefined only when the credential is empty before its first '/'. */
  accessKeyId: string | undefined;
  /** Undefined when the credential is not keyid/date/region/service/term. */
  region: string | undefined;
  service: string | undefined;
}

/**
 * What the credential scope must name. Each member is checked only when given: a local server may
 * accept every region, and one port may serve several signing names (kinesis, firehose).
 */
export interface ScopeExpectation {
  readonly region?: string;
  readonly service?: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const TERMINATOR = 'aws4_request';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** AWS allows 15 minutes of clock difference either way (error text says "15 min."). */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** One week, the longest a SigV4 presigned request may live. */
const MAX_EXPIRES_S = 604_800;

/**
 * AWS's wording. [K] = kinesalite's tests, run against real Kinesis; [S] = scratchstack-aws-signature,
 * reverse-engineered from AWS; [S3] = what S3 says (no Kinesis capture known).
 */
const msg = {
  missingToken: 'Missing Authentication Token', // [K]
  bothAuth:
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.", // [K]
  headerRequires: (p: string) => `Authorization header requires '${p}' parameter.`, // [K][S]
  headerRequiresDate:
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.", // [K][S]
  queryRequires: (p: string) => `AWS query-string parameters must include '${p}'.`, // [K][S]
  reexamineQuery: 'Re-examine the query-string parameters.', // [K][S]
  unsupportedAlgorithm: (a: string) => `Unsupported AWS 'algorithm': '${a}'.`, // [S]
  missingEquals: (pair: string, header: string) =>
    `'${pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '${header}'`, // [S]
  hostNotSigned: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", // [S]
  badDate: (d: string) =>
    `Date must be in ISO-8601 'basic format'. Got '${d}'. See http://en.wikipedia.org/wiki/ISO_8601`, // [S]
  expiresNotNumber: 'X-Amz-Expires should be a number', // [S3]
  expiresNegative: 'X-Amz-Expires must be non-negative', // [S3]
  expiresTooLong:
    'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds', // [S3]
  expired: (date: number, limit: number, now: number, window: string) =>
    `Signature expired: ${basic(date)} is now earlier than ${basic(limit)} (${basic(now)} - ${window}.)`, // [S]
  notYetCurrent: (date: number, limit: number, now: number) =>
    `Signature not yet current: ${basic(date)} is still later than ${basic(limit)} (${basic(now)} + 15 min.)`, // [S]
  credentialParts: (c: string) =>
    `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${c}'`, // [S]
  scopeRegion: (r: string) => `Credential should be scoped to a valid region, not '${r}'.`, // [S]
  scopeService: (s: string) => `Credential should be scoped to correct service: '${s}'.`, // [S]
  scopeTerminator: (t: string) =>
    `Credential should be scoped with a valid terminator: 'aws4_request', not '${t}'.`, // [S]
  scopeDate: (scope: string, expected: string, full: string) =>
    `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scope}' != '${expected}', from '${full}'.`, // [S]
  unknownKey: 'The security token included in the request is invalid.', // AWS (DynamoDB/Kinesis)
  mismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', // AWS
} as const;

interface QueryParam {
  /** Percent-decoded, for looking up X-Amz-* parameters. */
  readonly name: string;
  readonly value: string;
  /** Re-encoded from the decoded bytes by the SigV4 rule, for the canonical query string. */
  readonly encodedName: string;
  readonly encodedValue: string;
}

/** Everything the structural pass learns; verification needs all of it. */
interface ParsedAuth {
  readonly presigned: boolean;
  readonly credential: string;
  /** Exactly as sent: it is a line of the canonical request. */
  readonly signedHeaders: string;
  readonly signature: string;
  readonly dateMs: number;
  /** X-Amz-Expires in seconds, when a presigned request carries it. */
  readonly expiresS: number | undefined;
  readonly rawPath: string;
  readonly query: readonly QueryParam[];
}

/**
 * Structural check only (no secret needed): who signed, and the region/service of the credential
 * scope. A credential that is not keyid/date/region/service/term is not an error here, because AWS
 * checks the clock before it checks the credential's shape (verifySigV4 does both, in that order);
 * region and service are then undefined.
 */
export function parseAuth(req: SignedRequest): AuthInfo {
  const { credential } = parse(req);
  const parts = credential.split('/');
  const fivePart = parts.length === 5;
  return {
    accessKeyId: parts[0] === '' ? undefined : parts[0],
    region: fivePart ? parts[2] : undefined,
    service: fivePart ? parts[3] : undefined,
  };
}

/**
 * Full verification. Returns the credentials the request was signed with, or throws the AwsError
 * AWS would send. `nowMs` is the server's clock (epoch milliseconds).
 */
export function verifySigV4(
  req: SignedRequest,
  lookup: (accessKeyId: string) => Credentials | undefined,
  nowMs: number,
  expect: ScopeExpectation = {},
): Credentials {
  const auth = parse(req);

  // A presigned request lives X-Amz-Expires seconds from its date instead of +-15 minutes, but
  // one dated in the future is refused the same way.
  if (auth.dateMs > nowMs + MAX_SKEW_MS) {
    throw errors.InvalidSignatureException(msg.notYetCurrent(auth.dateMs, nowMs + MAX_SKEW_MS, nowMs));
  }
  const windowMs = auth.expiresS === undefined ? MAX_SKEW_MS : auth.expiresS * 1000;
  if (auth.dateMs < nowMs - windowMs) {
    throw errors.InvalidSignatureException(
      msg.expired(auth.dateMs, nowMs - windowMs, nowMs, duration(windowMs / 1000)),
    );
  }

  const parts = auth.credential.split('/');
  const [accessKeyId, scopeDate, region, service, terminator] = parts;
  if (
    parts.length !== 5 ||
    accessKeyId === undefined ||
    scopeDate === undefined ||
    region === undefined ||
    service === undefined ||
    terminator === undefined
  ) {
    throw errors.IncompleteSignatureException(msg.credentialParts(auth.credential));
  }

  // AWS reports every scope fault at once, in this order, joined by spaces.
  const scopeFaults: string[] = [];
  if (expect.region !== undefined && region !== expect.region) scopeFaults.push(msg.scopeRegion(region));
  if (expect.service !== undefined && service !== expect.service) {
    scopeFaults.push(msg.scopeService(expect.service));
  }
  if (terminator !== TERMINATOR) scopeFaults.push(msg.scopeTerminator(terminator));
  const requestDate = basic(auth.dateMs);
  if (scopeDate !== requestDate.slice(0, 8)) {
    scopeFaults.push(msg.scopeDate(scopeDate, requestDate.slice(0, 8), requestDate));
  }
  if (scopeFaults.length > 0) throw errors.InvalidSignatureException(scopeFaults.join(' '));

  const credentials = lookup(accessKeyId);
  if (credentials === undefined) throw errors.UnrecognizedClientException(msg.unknownKey);

  const canonicalRequest = [
    req.method,
    canonicalPath(auth.rawPath),
    canonicalQuery(auth.query, auth.presigned),
    canonicalHeaders(req.headers, auth.signedHeaders),
    auth.signedHeaders,
    payloadHash(req, auth),
  ].join('\n');
  const scope = `${scopeDate}/${region}/${service}/${terminator}`;
  const stringToSign = [ALGORITHM, requestDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, scopeDate);
  for (const part of [region, service, terminator]) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  const given = Buffer.from(auth.signature);
  // Only the length leaks, and every valid signature has the same one.
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw errors.InvalidSignatureException(msg.mismatch);
  }
  return credentials;
}

function parse(req: SignedRequest): ParsedAuth {
  const queryStart = req.path.indexOf('?');
  const rawPath = queryStart < 0 ? req.path : req.path.slice(0, queryStart);
  const query = queryStart < 0 ? [] : parseQuery(req.path.slice(queryStart + 1));
  // kinesalite: an empty Authorization header counts as absent, a valueless X-Amz-Algorithm does not.
  const authorization = header(req.headers, 'authorization');
  const hasHeader = authorization !== undefined && authorization !== '';
  const hasQuery = query.some((p) => p.name === 'X-Amz-Algorithm');
  if (hasHeader && hasQuery) throw errors.InvalidSignatureException(msg.bothAuth);
  if (!hasHeader && !hasQuery) throw errors.MissingAuthenticationTokenException(msg.missingToken);

  const fields = hasHeader ? fromHeader(authorization, req.headers) : fromQuery(query);
  const signed = fields.signedHeaders.toLowerCase().split(';');
  if (!signed.includes('host') && !signed.includes(':authority')) {
    throw errors.InvalidSignatureException(msg.hostNotSigned);
  }
  const dateMs = fields.fromDateHeader ? parseDateHeader(fields.date) : parseBasicDate(fields.date);
  if (dateMs === undefined) throw errors.IncompleteSignatureException(msg.badDate(fields.date));

  let expiresS: number | undefined;
  const expires = hasQuery ? first(query, 'X-Amz-Expires') : undefined;
  if (expires !== undefined) {
    if (!/^-?\d+$/.test(expires)) throw errors.IncompleteSignatureException(msg.expiresNotNumber);
    expiresS = Number(expires);
    if (expiresS < 0) throw errors.IncompleteSignatureException(msg.expiresNegative);
    if (expiresS > MAX_EXPIRES_S) throw errors.IncompleteSignatureException(msg.expiresTooLong);
  }
  return {
    presigned: hasQuery,
    credential: fields.credential,
    signedHeaders: fields.signedHeaders,
    signature: fields.signature,
    dateMs,
    expiresS,
    rawPath,
    query,
  };
}

interface AuthFields {
  credential: string;
  signedHeaders: string;
  signature: string;
  date: string;
  /** The date came from the HTTP Date header, which may also be an HTTP-date. */
  fromDateHeader: boolean;
}

function fromHeader(authorization: string, headers: SignedRequest['headers']): AuthFields {
  const value = authorization.trim();
  const space = value.search(/\s/);
  const algorithm = space < 0 ? value : value.slice(0, space);
  const pairs = space < 0 ? [] : value.slice(space + 1).split(/[,\s]+/).filter((p) => p !== '');
  // AWS answers a foreign scheme ('Bearer ...', or kinesalite's 'a') with the list of missing
  // pieces, but an AWS-looking one with the algorithm error, and only parses the pairs of its own.
  if (algorithm !== ALGORITHM && algorithm.startsWith('AWS')) {
    throw errors.IncompleteSignatureException(msg.unsupportedAlgorithm(algorithm));
  }
  const params = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) {
      if (algorithm === ALGORITHM) {
        throw errors.IncompleteSignatureException(msg.missingEquals(pair, value));
      }
      continue;
    }
    params.set(pair.slice(0, eq), pair.slice(eq + 1)); // the last one wins, as in kinesalite
  }
  const credential = params.get('Credential') ?? '';
  const signature = params.get('Signature') ?? '';
  const signedHeaders = params.get('SignedHeaders') ?? '';
  const amzDate = header(headers, 'x-amz-date');
  // X-Amz-Date wins over Date whenever it is present, even if it is then malformed.
  const date = amzDate !== undefined && amzDate !== '' ? amzDate : (header(headers, 'date') ?? '');
  const missing: string[] = [];
  if (credential === '') missing.push(msg.headerRequires('Credential'));
  if (signature === '') missing.push(msg.headerRequires('Signature'));
  if (signedHeaders === '') missing.push(msg.headerRequires('SignedHeaders'));
  if (date === '') missing.push(msg.headerRequiresDate);
  if (missing.length > 0) {
    throw errors.IncompleteSignatureException(`${missing.join(' ')} Authorization=${value}`);
  }
  if (algorithm !== ALGORITHM) throw errors.IncompleteSignatureException(msg.unsupportedAlgorithm(algorithm));
  const fromDateHeader = amzDate === undefined || amzDate === '';
  return { credential, signature, signedHeaders, date, fromDateHeader };
}

function fromQuery(query: readonly QueryParam[]): AuthFields {
  const names = [
    'X-Amz-Algorithm',
    'X-Amz-Credential',
    'X-Amz-Signature',
    'X-Amz-SignedHeaders',
    'X-Amz-Date',
  ];
  const [algorithm = '', credential = '', signature = '', signedHeaders = '', date = ''] = names.map(
    (n) => first(query, n) ?? '',
  );
  const missing = names.filter((n) => (first(query, n) ?? '') === '').map(msg.queryRequires);
  if (missing.length > 0) {
    throw errors.IncompleteSignatureException(`${missing.join(' ')} ${msg.reexamineQuery}`);
  }
  // [S]: a query-string algorithm AWS does not know reads as no authentication at all.
  if (algorithm !== ALGORITHM) throw errors.MissingAuthenticationTokenException(msg.missingToken);
  return { credential, signature, signedHeaders, date, fromDateHeader: false };
}

/** The first value of a query parameter: AWS ignores repeats of the X-Amz-* ones. */
function first(query: readonly QueryParam[], name: string): string | undefined {
  return query.find((p) => p.name === name)?.value;
}

/**
 * A header's value. Repeated headers that node hands over as an array are joined with ',' as SigV4
 * says. Host and ':authority' stand in for each other: an HTTP/2 request has no Host header though
 * most signers sign 'host', while the JS SDK's HTTP/2 handler signs ':authority' itself, and a
 * proxy may carry either request over the other protocol.
 */
function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value =
    headers[name] ??
    (name === 'host' ? headers[':authority'] : name === ':authority' ? headers['host'] : undefined);
  return Array.isArray(value) ? value.join(',') : value;
}

function canonicalHeaders(headers: SignedRequest['headers'], signedHeaders: string): string {
  let out = '';
  for (const name of signedHeaders.split(';')) {
    // Trim, and squeeze runs of blanks to one space, as the SigV4 "trimall" rule and the SDK do.
    const value = (header(headers, name.toLowerCase()) ?? '')
      .replace(/[\r\n]/g, ' ')
      .replace(/[ \t]+/g, ' ')
      .replace(/^ | $/g, '');
    out += `${name}:${value}\n`;
  }
  return out;
}

/**
 * Dot segments and empty segments are removed, then every segment is URI-encoded once more than it
 * was on the wire (so '%2F' becomes '%252F'): the rule for every service but S3.
 */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEncode(Buffer.from(segment, 'utf8')));
  }
  const lead = rawPath.startsWith('/') ? '/' : '';
  const trail = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `${lead}${segments.join('/')}${trail}`;
}

function canonicalQuery(query: readonly QueryParam[], presigned: boolean): string {
  return query
    .filter((p) => !(presigned && p.name === 'X-Amz-Signature'))
    .map((p) => [p.encodedName, p.encodedValue] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

function parseQuery(raw: string): QueryParam[] {
  const out: QueryParam[] = [];
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = percentDecode(eq < 0 ? piece : piece.slice(0, eq));
    const value = percentDecode(eq < 0 ? '' : piece.slice(eq + 1));
    out.push({
      name: name.toString('utf8'),
      value: value.toString('utf8'),
      encodedName: uriEncode(name),
      encodedValue: uriEncode(value),
    });
  }
  return out;
}

/**
 * Decodes %XX escapes to bytes. '+' stays a plus (SigV4 clients encode spaces as %20), and a stray
 * '%' stays itself rather than failing: the signer saw the same bytes we re-encode.
 */
function percentDecode(s: string): Buffer {
  if (!s.includes('%')) return Buffer.from(s, 'utf8');
  const chunks: Buffer[] = [];
  let plainFrom = 0;
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) continue;
    chunks.push(Buffer.from(s.slice(plainFrom, i), 'utf8'), Buffer.from([parseInt(hex, 16)]));
    plainFrom = i + 3;
    i += 2;
  }
  chunks.push(Buffer.from(s.slice(plainFrom), 'utf8'));
  return Buffer.concat(chunks);
}

/** SigV4's URI encoding: unreserved characters as they are, every other byte as %XX (upper case). */
function uriEncode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const unreserved =
      (b >= 0x30 && b <= 0x39) || // 0-9
      (b >= 0x41 && b <= 0x5a) || // A-Z
      (b >= 0x61 && b <= 0x7a) || // a-z
      b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e; // - . _ ~
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The body's SHA-256, unless the client declared UNSIGNED-PAYLOAD in x-amz-content-sha256 (a
 * presigner hoists that header into the query string). Any other declared value is not trusted:
 * the body is hashed, so a false declaration fails as a signature mismatch, as at AWS.
 */
function payloadHash(req: SignedRequest, auth: ParsedAuth): string {
  const declared =
    (auth.presigned
      ? auth.query.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value
      : undefined) ?? header(req.headers, 'x-amz-content-sha256');
  return declared === UNSIGNED_PAYLOAD ? UNSIGNED_PAYLOAD : sha256Hex(req.body);
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** ISO-8601 basic format, the only one SigV4 signs: 20150830T123600Z. */
function basic(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** How AWS prints a window in the "Signature expired" text: "15 min." or "90 sec.". */
function duration(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} sec`;
}

function parseBasicDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return undefined;
  return utc(m.slice(1).map(Number));
}

const HTTP_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The Date header may hold either format: SigV4 signers write the basic one, but AWS's own SigV4
 * test suite (2011 edition) signs an HTTP-date ("Mon, 09 Sep 2011 23:36:00 GMT").
 */
function parseDateHeader(s: string): number | undefined {
  const m = HTTP_DATE.exec(s);
  if (m === null) return parseBasicDate(s);
  const month = MONTHS.indexOf(m[2] ?? '') + 1;
  if (month === 0) return undefined;
  return utc([Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])]);
}

/** Epoch ms for [year, month, day, hour, minute, second], or undefined unless all are in range. */
function utc(fields: readonly (number | undefined)[]): number | undefined {
  // A missing field becomes NaN, which no comparison below accepts.
  const [year = NaN, month = NaN, day = NaN, hour = NaN, minute = NaN, second = NaN] = fields;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Date.UTC rolls Feb 30 over to Mar 1; reading the fields back refuses it.
  const same =
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month - 1 &&
    d.getUTCDate() === day &&
    d.getUTCHours() === hour &&
    d.getUTCMinutes() === minute &&
    d.getUTCSeconds() === second;
  return same ? ms : undefined;
}

// ---- credentials file ----------------------------------------------------------------------

/**
 * Loads the keys the server accepts, from either
 *  - JSON: {"credentials":[{"accessKeyId":"..","secretAccessKey":"..","accountId":"123456789012"}]}
 *    (accountId may be left out), or
 *  - the AWS CLI's INI format: [profile] sections with aws_access_key_id / aws_secret_access_key
 *    and optionally account_id or aws_account_id; sections without keys (role profiles in a
 *    ~/.aws/config) are skipped.
 * A missing account id falls back to `defaultAccountId`. Problems throw an Error naming the file
 * and the entry, since this runs once at start-up where a clear message beats a partial key set.
 */
export function loadCredentialsFile(path: string, defaultAccountId: string): Credentials[] {
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  const entries = text.trimStart().startsWith('{')
    ? fromJsonFile(text, path)
    : fromIniFile(text, path);
  const byKey = new Map<string, Credentials>();
  for (const entry of entries) {
    const accountId = entry.accountId ?? defaultAccountId;
    if (!/^\d{12}$/.test(accountId)) {
      throw new Error(`${path}: ${entry.where}: account id '${accountId}' is not 12 digits`);
    }
    const { accessKeyId, secretAccessKey } = entry;
    const seen = byKey.get(accessKeyId);
    // The same key copied into two profiles is common and harmless; two secrets for one key is not.
    if (seen !== undefined && (seen.secretAccessKey !== secretAccessKey || seen.accountId !== accountId)) {
      throw new Error(`${path}: ${entry.where}: access key '${accessKeyId}' is defined twice, differently`);
    }
    byKey.set(accessKeyId, { accessKeyId, secretAccessKey, accountId });
  }
  return [...byKey.values()];
}

interface FileEntry {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string | undefined;
  /** 'credentials[2]' or "profile 'dev'", for messages. */
  where: string;
}

function fromJsonFile(text: string, path: string): FileEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const list = isRecord(doc) ? doc['credentials'] : undefined;
  if (!Array.isArray(list)) throw new Error(`${path}: expected {"credentials": [...]}`);
  return list.map((item: unknown, i): FileEntry => {
    const where = `credentials[${i}]`;
    if (!isRecord(item)) throw new Error(`${path}: ${where} must be an object`);
    const field = (name: string, optional: boolean): string | undefined => {
      const v = item[name];
      if (v === undefined && optional) return undefined;
      if (typeof v !== 'string' || v === '') {
        throw new Error(`${path}: ${where}.${name} must be a non-empty string`);
      }
      return v;
    };
    return {
      accessKeyId: field('accessKeyId', false) ?? '',
      secretAccessKey: field('secretAccessKey', false) ?? '',
      accountId: field('accountId', true),
      where,
    };
  });
}

function fromIniFile(text: string, path: string): FileEntry[] {
  const sections: { name: string; line: number; keys: Map<string, string> }[] = [];
  // botocore nests settings under a key with an empty value ("s3 =" then indented lines).
  let nested = false;
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    if (nested && /^\s/.test(line)) return;
    nested = false;
    const section = /^\[\s*(.*?)\s*\]$/.exec(trimmed);
    if (section !== null) {
      sections.push({ name: (section[1] ?? '').replace(/^profile\s+/, ''), line: i + 1, keys: new Map() });
      return;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    const current = sections[sections.length - 1];
    if (kv === null || current === undefined) {
      throw new Error(`${path}:${i + 1}: expected '[profile]' or 'key = value'`);
    }
    const [, key = '', value = ''] = kv;
    if (value === '') nested = true;
    current.keys.set(key.toLowerCase(), value);
  });
  const out: FileEntry[] = [];
  for (const s of sections) {
    const where = `profile '${s.name}' (line ${s.line})`;
    const accessKeyId = s.keys.get('aws_access_key_id');
    const secretAccessKey = s.keys.get('aws_secret_access_key');
    if (accessKeyId === undefined && secretAccessKey === undefined) continue;
    if (!accessKeyId) throw new Error(`${path}: ${where} has no aws_access_key_id`);
    if (!secretAccessKey) throw new Error(`${path}: ${where} has no aws_secret_access_key`);
    const accountId = s.keys.get('account_id') ?? s.keys.get('aws_account_id');
    out.push({ accessKeyId, secretAccessKey, accountId: accountId || undefined, where });
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
