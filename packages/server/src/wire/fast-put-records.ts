/**
 * PutRecords in JSON, decoded straight from the request bytes in one pass: the hot path of every
 * producer. The generic path (JSON.parse, then the model-driven decoder and validator) makes a
 * string per member and an object per record before it checks anything; here each record's Data
 * is base64-decoded from the body into one shared buffer and its partition key sliced out once.
 *
 * It takes only the plain case: an object of Records and StreamName; records of Data,
 * PartitionKey and ExplicitHashKey; strings without escapes, ASCII partition keys, canonical
 * base64, every model constraint met. Anything else (another member, an escape, a null, a number
 * where a string belongs, a constraint broken) returns undefined, and the generic path decodes the
 * body and answers with AWS's exact error: so what this accepts is always what the generic path
 * would accept, decoded to the same values (test/wire/fast-put-records.test.ts compares them).
 */

import { RecordBatch } from '../core/record-batch.js';
import { WriteOutcome } from '../streams/write.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const EQUALS = 0x3d;

/** The model's limits (kinesis-2013-12-02: PutRecordsRequestEntryList, PartitionKey, StreamName). */
const MAX_RECORDS = 500;
const MAX_PARTITION_KEY = 256;
const MAX_STREAM_NAME = 128;
const MAX_HASH_KEY_DIGITS = 39;

/** Base64 value of each byte, -1 for bytes outside the standard alphabet. */
const B64 = (() => {
  const t = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
})();

/** [a-zA-Z0-9_.-] */
const NAME_CHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    if (/[a-zA-Z0-9_.-]/.test(ch)) t[c] = 1;
  }
  return t;
})();


/** JSON whitespace. */
const WS = (() => {
  const t = new Uint8Array(256);
  for (const c of [0x20, 0x0a, 0x0d, 0x09]) t[c] = 1;
  return t;
})();

/** Printable ASCII other than the quote and the backslash: a string byte needing no escape. */
const PLAIN = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x20; c <= 0x7e; c++) if (c !== QUOTE && c !== BACKSLASH) t[c] = 1;
  return t;
})();

const RECORDS = 1;
const STREAM_NAME = 2;
const DATA = 3;
const PARTITION_KEY = 4;
const EXPLICIT_HASH_KEY = 5;
const NAMES: readonly (readonly [number, Buffer])[] = [
  [RECORDS, Buffer.from('Records')],
  [STREAM_NAME, Buffer.from('StreamName')],
  [DATA, Buffer.from('Data')],
  [PARTITION_KEY, Buffer.from('PartitionKey')],
  [EXPLICIT_HASH_KEY, Buffer.from('ExplicitHashKey')],
];

/** Which member name b[start, end) is; 0 for any other. Names differ in length. */
function memberAt(b: Buffer, start: number, end: number): number {
  const n = end - start;
  for (let k = 0; k < NAMES.length; k++) {
    const [m, name] = NAMES[k]!;
    if (name.length !== n) continue;
    for (let j = 0; j < n; j++) if (b[start + j] !== name[j]) return 0;
    return m;
  }
  return 0;
}

/**
 * After this many 4-character groups of one Data value the loop hands the rest to Node's decoder
 * (checked by encoding back): shorter values cost less in the loop than the calls and the string.
 */
const NATIVE_BASE64_AFTER = 128;

/** The shortest record in JSON, `{"Data":"","PartitionKey":"k"}` and a comma: bounds are sized from it. */
const MIN_RECORD_JSON = 31;

/**
 * The decoded PutRecords input, or undefined when the generic path must decide. The records come
 * as columns: their data decoded into one new buffer, their partition keys left in the body.
 */
export function fastPutRecordsJson(b: Buffer): { Records: RecordBatch; StreamName?: string } | undefined {
  const len = b.length;
  // Decoded data of every record, back to back: base64 is 4/3 the size, so this always holds it.
  const out = Buffer.allocUnsafe(Math.ceil((len * 3) / 4));
  let o = 0;
  let i = 0;
  let count = -1; // records seen; -1 before Records
  // Room for every record the body can hold (doubled below should that ever fall short).
  let bounds = new Int32Array(4 * Math.max(1, Math.min(MAX_RECORDS, Math.floor(len / MIN_RECORD_JSON))));
  let hashKeys: (string | undefined)[] | undefined;
  let streamName: string | undefined;
  let inRecord = false;
  let dataStart = -1;
  let dataEnd = -1;
  let keyStart = -1;
  let keyEnd = -1;
  let hashKey: string | undefined;
  while (i < len && WS[b[i]!] === 1) i++;
  if (b[i] !== OPEN_BRACE) return undefined;
  i++;
  let afterValue = false;
  for (;;) {
    if (!afterValue) {
      // A member of the top object or of a record: ws "name" ws : ws value
      while (i < len && WS[b[i]!] === 1) i++;
      if (b[i] !== QUOTE) return undefined;
      const nameStart = ++i;
      while (i < len && PLAIN[b[i]!] === 1) i++;
      if (b[i] !== QUOTE) return undefined;
      const m = memberAt(b, nameStart, i);
      i++;
      while (i < len && WS[b[i]!] === 1) i++;
      if (b[i] !== COLON) return undefined;
      i++;
      while (i < len && WS[b[i]!] === 1) i++;
      if (m === RECORDS && !inRecord) {
        if (count >= 0 || b[i] !== OPEN_BRACKET) return undefined;
        i++;
        while (i < len && WS[b[i]!] === 1) i++;
        if (b[i] !== OPEN_BRACE) return undefined; // at least one record, each an object
        i++;
        count = 0;
        inRecord = true;
        continue;
      }
      if (b[i] !== QUOTE) return undefined;
      const start = ++i;
      if (m === DATA && inRecord) {
        if (dataStart >= 0) return undefined;
        const from = o;
        // Canonical base64 up to the closing quote, decoded as it is read.
        const t = B64;
        let quads = 0;
        for (;;) {
          // Reads stay inside the body: a valid one has at least "}]} after the closing quote, and
          // an index past the end would read as 0 in the arithmetic below and never stop.
          if (i + 3 >= len) return undefined;
          const a = t[b[i]!]!;
          const c1 = t[b[i + 1]!]!;
          const c2 = t[b[i + 2]!]!;
          const c3 = t[b[i + 3]!]!;
          if ((a | c1 | c2 | c3) >= 0) {
            out[o] = (a << 2) | (c1 >> 4);
            out[o + 1] = ((c1 & 15) << 4) | (c2 >> 2);
            out[o + 2] = ((c2 & 3) << 6) | c3;
            o += 3;
            i += 4;
            if (++quads === NATIVE_BASE64_AFTER) {
              // A long value: Node's decoder takes the rest, several times faster than this loop,
              // but lenient (it skips what is not base64, takes the URL alphabet, ignores pad
              // bits), so the rest counts only if encoding it back gives it: canonical base64.
              // What came before is whole quads, so the two parts decode as the whole would.
              const close = b.indexOf(QUOTE, i);
              if (close < 0 || (close - i) % 4 !== 0) return undefined;
              const text = b.toString('latin1', i, close);
              const at = o;
              o += out.write(text, o, 'base64');
              if (out.toString('base64', at, o) !== text) return undefined;
              i = close;
              break;
            }
            continue;
          }
          if (b[i] === QUOTE) break;
          // The last quad, padded ("xx==" or "xxx=", pad bits zero), then the quote.
          if (a < 0 || c1 < 0 || b[i + 3] !== EQUALS || b[i + 4] !== QUOTE) return undefined;
          out[o++] = (a << 2) | (c1 >> 4);
          if (b[i + 2] === EQUALS) {
            if ((c1 & 15) !== 0) return undefined;
          } else {
            if (c2 < 0 || (c2 & 3) !== 0) return undefined;
            out[o++] = ((c1 & 15) << 4) | (c2 >> 2);
          }
          i += 4;
          break;
        }
        dataStart = from;
        dataEnd = o;
        i++;
      } else {
        while (i < len && PLAIN[b[i]!] === 1) i++;
        if (b[i] !== QUOTE) return undefined;
        const end = i++;
        const n = end - start;
        if (m === PARTITION_KEY && inRecord) {
          if (keyStart >= 0 || n < 1 || n > MAX_PARTITION_KEY) return undefined;
          keyStart = start;
          keyEnd = end;
        } else if (m === EXPLICIT_HASH_KEY && inRecord) {
          if (hashKey !== undefined || !isHashKey(b, start, end)) return undefined;
          hashKey = b.toString('latin1', start, end);
        } else if (m === STREAM_NAME && !inRecord) {
          if (streamName !== undefined || n < 1 || n > MAX_STREAM_NAME) return undefined;
          for (let k = start; k < end; k++) if (NAME_CHAR[b[k]!] === 0) return undefined;
          streamName = b.toString('latin1', start, end);
        } else return undefined;
      }
    }
    afterValue = false;
    // After a value: another member, or the end of the object.
    while (i < len && WS[b[i]!] === 1) i++;
    if (b[i] === COMMA) {
      i++;
      continue;
    }
    if (b[i] !== CLOSE_BRACE) return undefined;
    i++;
    if (!inRecord) break;
    // The end of a record: the next one, or the end of Records.
    if (dataStart < 0 || keyStart < 0 || count === MAX_RECORDS) return undefined;
    if (4 * count === bounds.length) {
      const more = new Int32Array(2 * bounds.length);
      more.set(bounds);
      bounds = more;
    }
    bounds[4 * count] = dataStart;
    bounds[4 * count + 1] = dataEnd;
    bounds[4 * count + 2] = keyStart;
    bounds[4 * count + 3] = keyEnd;
    if (hashKey !== undefined) (hashKeys ??= new Array<string | undefined>(count).fill(undefined))[count] = hashKey;
    else if (hashKeys !== undefined) hashKeys[count] = undefined;
    count++;
    dataStart = dataEnd = keyStart = keyEnd = -1;
    hashKey = undefined;
    while (i < len && WS[b[i]!] === 1) i++;
    if (b[i] === COMMA) {
      i++;
      while (i < len && WS[b[i]!] === 1) i++;
      if (b[i] !== OPEN_BRACE) return undefined;
      i++;
      continue;
    }
    if (b[i] !== CLOSE_BRACKET) return undefined;
    i++;
    // The end of Records: what follows is as after any other value of the top object.
    inRecord = false;
    afterValue = true;
  }
  while (i < len && WS[b[i]!] === 1) i++;
  if (i !== len || count < 0) return undefined;
  const records = new RecordBatch(count, out, b, bounds, hashKeys);
  return streamName === undefined ? { Records: records } : { Records: records, StreamName: streamName };
}

/** HashKey: 0|([1-9]\d{0,38}). */
function isHashKey(body: Buffer, start: number, end: number): boolean {
  const n = end - start;
  if (n < 1 || n > MAX_HASH_KEY_DIGITS) return false;
  if (body[start] === 0x30) return n === 1;
  for (let i = start; i < end; i++) {
    const c = body[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

interface PutRecordsOutput {
  FailedRecordCount?: unknown;
  Records?: unknown;
  EncryptionType?: unknown;
}

interface ResultEntry {
  SequenceNumber?: unknown;
  ShardId?: unknown;
  ErrorCode?: unknown;
  ErrorMessage?: unknown;
}

/**
 * The PutRecords answer in JSON, byte for byte what the generic encoder writes, built as one
 * string: sequence numbers and shard ids are Eddy's own digits and ASCII and need no escaping
 * (failed entries, whose messages might, go through JSON.stringify). Undefined for anything else.
 */
export function putRecordsJsonOutput(out: Record<string, unknown>): Buffer | undefined {
  const { FailedRecordCount, Records, EncryptionType } = out as PutRecordsOutput;
  if (Records instanceof WriteOutcome && (EncryptionType === undefined || typeof EncryptionType === 'string')) return Records.json(EncryptionType);
  if (!Number.isSafeInteger(FailedRecordCount) || !Array.isArray(Records)) return undefined;
  if (EncryptionType !== undefined && typeof EncryptionType !== 'string') return undefined;
  let s = `{"FailedRecordCount":${FailedRecordCount as number},"Records":[`;
  for (let i = 0; i < Records.length; i++) {
    const r = Records[i] as ResultEntry;
    if (i > 0) s += ',';
    if (typeof r.SequenceNumber === 'string' && typeof r.ShardId === 'string' && r.ErrorCode === undefined && r.ErrorMessage === undefined) {
      s += `{"SequenceNumber":"${r.SequenceNumber}","ShardId":"${r.ShardId}"}`;
    } else if (typeof r.ErrorCode === 'string' && typeof r.ErrorMessage === 'string' && r.SequenceNumber === undefined && r.ShardId === undefined) {
      s += `{"ErrorCode":${JSON.stringify(r.ErrorCode)},"ErrorMessage":${JSON.stringify(r.ErrorMessage)}}`;
    } else return undefined;
  }
  s += EncryptionType === undefined ? ']}' : `],"EncryptionType":${JSON.stringify(EncryptionType)}}`;
  return Buffer.from(s, 'utf8');
}
