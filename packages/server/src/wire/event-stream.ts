/**
 * `application/vnd.amazon.eventstream` framing, the body of a SubscribeToShard response
 * (checklist section 1.3; smithy `amazon-eventstream.rst`). Each message is
 *
 *   total_length:u32 | headers_length:u32 | prelude_crc:u32 | headers | payload | message_crc:u32
 *
 * big-endian, with CRC32 (IEEE, the gzip one) over the first 8 bytes and over everything before
 * message_crc. A header is `name_len:u8 | name | type:u8 | value`.
 *
 * The spec asks services (us) to enforce the size limits and both ends to check both CRCs and to
 * drop the stream on a bad one; the decoder therefore refuses to go on after its first error.
 */
import { crc32 } from 'node:zlib';

export type HeaderValue =
  | { type: 'bool'; value: boolean }
  | { type: 'byte'; value: number }
  | { type: 'short'; value: number }
  | { type: 'int'; value: number }
  | { type: 'long'; value: bigint }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'string'; value: string }
  | { type: 'timestamp'; value: number /* epoch ms */ }
  | { type: 'uuid'; value: Uint8Array };

export interface EventMessage {
  headers: Record<string, HeaderValue>;
  payload: Uint8Array;
}

/** A malformed or corrupt message, or a message too big to send. */
export class EventStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

/** Smithy spec: "The payload of a message MUST NOT exceed 25,165,824 bytes (24 MB)". */
export const MAX_PAYLOAD_BYTES = 24 * 1024 * 1024;
/** Smithy spec: "The encoded headers of a message MUST NOT exceed 131,072 bytes (128 kB)". */
export const MAX_HEADERS_BYTES = 128 * 1024;
/**
 * Smithy spec: byte_array and string values are `<1..2^15-1>`. The length field is a u16, but the
 * Java and C decoders read it as a signed short, so the encoder keeps below 2^15; the decoder reads
 * the whole u16 range. (Empty values are allowed both ways: the SDKs write and read them.)
 */
const MAX_HEADER_VALUE_BYTES = 0x7fff;

const PRELUDE_BYTES = 12;
/** Prelude plus message CRC. */
const OVERHEAD_BYTES = 16;

const TYPE_TRUE = 0;
const TYPE_FALSE = 1;
const TYPE_BYTE = 2;
const TYPE_SHORT = 3;
const TYPE_INT = 4;
const TYPE_LONG = 5;
const TYPE_BYTES = 6;
const TYPE_STRING = 7;
const TYPE_TIMESTAMP = 8;
const TYPE_UUID = 9;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

// fatal: invalid UTF-8 is corruption. ignoreBOM: a leading U+FEFF is part of the value.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** Encodes one message. Throws EventStreamError for headers or payloads the format cannot carry. */
export function encodeEventMessage(msg: EventMessage): Buffer {
  const names = Object.keys(msg.headers);
  // Header names and string values are UTF-8 encoded once, in the sizing pass, and copied after.
  const encoded: Buffer[] = [];
  let headersLength = 0;
  for (const name of names) {
    const header = msg.headers[name] as HeaderValue;
    const nameBytes = Buffer.from(name, 'utf8');
    if (nameBytes.length < 1 || nameBytes.length > 255) {
      throw new EventStreamError(`header name must be 1 to 255 bytes of UTF-8, got ${nameBytes.length}`);
    }
    encoded.push(nameBytes);
    headersLength += 2 + nameBytes.length + headerValueSize(name, header, encoded);
  }
  if (headersLength > MAX_HEADERS_BYTES) {
    throw new EventStreamError(`headers take ${headersLength} bytes, more than the ${MAX_HEADERS_BYTES} allowed`);
  }
  const payload = msg.payload;
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new EventStreamError(`payload of ${payload.length} bytes is more than the ${MAX_PAYLOAD_BYTES} allowed`);
  }

  const total = OVERHEAD_BYTES + headersLength + payload.length;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headersLength, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  let p = PRELUDE_BYTES;
  let e = 0;
  for (const name of names) {
    const header = msg.headers[name] as HeaderValue;
    const nameBytes = encoded[e++] as Buffer;
    out[p++] = nameBytes.length;
    p += nameBytes.copy(out, p);
    switch (header.type) {
      case 'bool':
        out[p++] = header.value ? TYPE_TRUE : TYPE_FALSE;
        break;
      case 'byte':
        out[p++] = TYPE_BYTE;
        p = out.writeInt8(header.value, p);
        break;
      case 'short':
        out[p++] = TYPE_SHORT;
        p = out.writeInt16BE(header.value, p);
        break;
      case 'int':
        out[p++] = TYPE_INT;
        p = out.writeInt32BE(header.value, p);
        break;
      case 'long':
        out[p++] = TYPE_LONG;
        p = out.writeBigInt64BE(header.value, p);
        break;
      case 'timestamp':
        out[p++] = TYPE_TIMESTAMP;
        p = out.writeBigInt64BE(BigInt(header.value), p);
        break;
      case 'uuid':
        out[p++] = TYPE_UUID;
        out.set(header.value, p);
        p += 16;
        break;
      case 'bytes':
      case 'string': {
        const value = header.type === 'bytes' ? header.value : (encoded[e++] as Buffer);
        out[p++] = header.type === 'bytes' ? TYPE_BYTES : TYPE_STRING;
        p = out.writeUInt16BE(value.length, p);
        out.set(value, p);
        p += value.length;
        break;
      }
    }
  }
  out.set(payload, p);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

/** Bytes after the header name's type byte; checks the value and stashes string bytes. */
function headerValueSize(name: string, header: HeaderValue, encoded: Buffer[]): number {
  const bad = (why: string): never => {
    throw new EventStreamError(`header ${JSON.stringify(name)}: ${why}`);
  };
  const int = (v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) bad(`${header.type} value ${v} is not an integer in [${min}, ${max}]`);
  };
  switch (header.type) {
    case 'bool':
      return 0;
    case 'byte':
      int(header.value, -0x80, 0x7f);
      return 1;
    case 'short':
      int(header.value, -0x8000, 0x7fff);
      return 2;
    case 'int':
      int(header.value, -0x80000000, 0x7fffffff);
      return 4;
    case 'long':
      if (header.value < INT64_MIN || header.value > INT64_MAX) bad(`long value ${header.value} is outside int64`);
      return 8;
    case 'timestamp':
      if (!Number.isSafeInteger(header.value)) bad(`timestamp ${header.value} is not an integer of epoch milliseconds`);
      return 8;
    case 'uuid':
      if (header.value.length !== 16) bad(`uuid must be 16 bytes, got ${header.value.length}`);
      return 16;
    case 'bytes':
      if (header.value.length > MAX_HEADER_VALUE_BYTES) bad(`bytes value longer than ${MAX_HEADER_VALUE_BYTES} bytes`);
      return 2 + header.value.length;
    case 'string': {
      const bytes = Buffer.from(header.value, 'utf8');
      if (bytes.length > MAX_HEADER_VALUE_BYTES) bad(`string value longer than ${MAX_HEADER_VALUE_BYTES} bytes`);
      encoded.push(bytes);
      return 2 + bytes.length;
    }
    default:
      return bad(`unknown header type ${JSON.stringify((header as { type: unknown }).type)}`);
  }
}

const str = (value: string): HeaderValue => ({ type: 'string', value });

/** An event message (`:message-type` event), e.g. SubscribeToShardEvent or initial-response. */
export function encodeEvent(eventType: string, payload: Uint8Array, contentType = 'application/json'): Buffer {
  return encodeEventMessage({
    headers: { ':event-type': str(eventType), ':content-type': str(contentType), ':message-type': str('event') },
    payload,
  });
}

/**
 * A modeled error event (`:message-type` exception), e.g. ResourceNotFoundException mid-stream,
 * with the JSON body `{"message": ...}` the SDKs parse into the exception.
 */
export function encodeException(exceptionType: string, message: string): Buffer {
  return encodeEventMessage({
    headers: {
      ':exception-type': str(exceptionType),
      ':content-type': str('application/json'),
      ':message-type': str('exception'),
    },
    payload: Buffer.from(JSON.stringify({ message }), 'utf8'),
  });
}

/** An unmodeled error event (`:message-type` error): code and message travel as headers. */
export function encodeError(code: string, message: string): Buffer {
  return encodeEventMessage({
    headers: { ':error-code': str(code), ':error-message': str(message), ':message-type': str('error') },
    payload: new Uint8Array(0),
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Splits a byte stream into messages. Feed it chunks as they arrive; it returns the messages they
 * complete and keeps the rest. A message is allocated only once its prelude has been checked, so a
 * corrupt length can never make it reserve more than the limits allow. After the first error every
 * call throws that error again: a stream that lost its framing cannot be resynchronised.
 */
export class EventStreamDecoder {
  /** Prelude bytes gathered while no message buffer exists yet. */
  readonly #prelude = Buffer.alloc(PRELUDE_BYTES);
  #preludeFilled = 0;
  /** The message being gathered, sized from its checked prelude. */
  #message: Buffer | undefined;
  #messageFilled = 0;
  #failed: EventStreamError | undefined;

  /** Bytes held back as part of a message not yet complete. */
  get buffered(): number {
    return this.#message === undefined ? this.#preludeFilled : this.#messageFilled;
  }

  push(chunk: Uint8Array): EventMessage[] {
    if (this.#failed !== undefined) throw this.#failed;
    try {
      return this.#push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      this.#failed =
        err instanceof EventStreamError ? err : new EventStreamError(`undecodable message: ${String(err)}`);
      throw this.#failed;
    }
  }

  /** Call at the end of the stream: throws if it stopped in the middle of a message. */
  end(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.buffered > 0) {
      this.#failed = new EventStreamError(`stream ended inside a message (${this.buffered} bytes buffered)`);
      throw this.#failed;
    }
  }

  #push(chunk: Buffer): EventMessage[] {
    const out: EventMessage[] = [];
    const len = chunk.length;
    let off = 0;
    while (off < len) {
      const message = this.#message;
      if (message !== undefined) {
        const n = Math.min(message.length - this.#messageFilled, len - off);
        chunk.copy(message, this.#messageFilled, off, off + n);
        this.#messageFilled += n;
        off += n;
        if (this.#messageFilled === message.length) {
          this.#message = undefined;
          this.#messageFilled = 0;
          out.push(parseMessage(message, 0, message.length, true));
        }
      } else if (this.#preludeFilled === 0 && len - off >= PRELUDE_BYTES) {
        // Fast path: the prelude is all in this chunk, often the whole message too.
        const total = checkPrelude(chunk, off);
        if (len - off >= total) {
          out.push(parseMessage(chunk, off, total, false));
          off += total;
        } else {
          const next = Buffer.allocUnsafe(total);
          this.#messageFilled = chunk.copy(next, 0, off, len);
          this.#message = next;
          off = len;
        }
      } else {
        const n = Math.min(PRELUDE_BYTES - this.#preludeFilled, len - off);
        chunk.copy(this.#prelude, this.#preludeFilled, off, off + n);
        this.#preludeFilled += n;
        off += n;
        if (this.#preludeFilled === PRELUDE_BYTES) {
          const next = Buffer.allocUnsafe(checkPrelude(this.#prelude, 0));
          this.#messageFilled = this.#prelude.copy(next, 0);
          this.#preludeFilled = 0;
          this.#message = next;
        }
      }
    }
    return out;
  }
}

/** Checks the 12-byte prelude at `off` and returns the message's total length. */
function checkPrelude(buf: Buffer, off: number): number {
  const total = buf.readUInt32BE(off);
  const headersLength = buf.readUInt32BE(off + 4);
  const expected = buf.readUInt32BE(off + 8);
  // The CRC comes first: until it matches, neither length can be trusted.
  const actual = crc32(buf.subarray(off, off + 8));
  if (actual !== expected) throw new EventStreamError(`prelude CRC mismatch: computed ${actual}, message says ${expected}`);
  if (total < OVERHEAD_BYTES) throw new EventStreamError(`total length ${total} is below the ${OVERHEAD_BYTES}-byte minimum`);
  if (headersLength > total - OVERHEAD_BYTES) {
    throw new EventStreamError(`headers length ${headersLength} does not fit in a ${total}-byte message`);
  }
  if (headersLength > MAX_HEADERS_BYTES) {
    throw new EventStreamError(`headers length ${headersLength} is more than the ${MAX_HEADERS_BYTES} allowed`);
  }
  const payloadLength = total - OVERHEAD_BYTES - headersLength;
  if (payloadLength > MAX_PAYLOAD_BYTES) {
    throw new EventStreamError(`payload length ${payloadLength} is more than the ${MAX_PAYLOAD_BYTES} allowed`);
  }
  return total;
}

/**
 * Parses a message whose prelude checked out. `owned` says buf is ours alone, so the payload may be
 * a view of it; otherwise it is copied, not to pin the caller's chunk.
 */
function parseMessage(buf: Buffer, off: number, total: number, owned: boolean): EventMessage {
  const end = off + total;
  const expected = buf.readUInt32BE(end - 4);
  const actual = crc32(buf.subarray(off, end - 4));
  if (actual !== expected) throw new EventStreamError(`message CRC mismatch: computed ${actual}, message says ${expected}`);
  const headersStart = off + PRELUDE_BYTES;
  const headersEnd = headersStart + buf.readUInt32BE(off + 4);
  const payload = buf.subarray(headersEnd, end - 4);
  return { headers: parseHeaders(buf, headersStart, headersEnd), payload: owned ? payload : Buffer.from(payload) };
}

function parseHeaders(buf: Buffer, start: number, end: number): Record<string, HeaderValue> {
  const headers = Object.create(null) as Record<string, HeaderValue>;
  let p = start;
  const need = (n: number): void => {
    if (p + n > end) throw new EventStreamError('header runs past the end of the headers section');
  };
  while (p < end) {
    const nameLength = buf[p++] as number;
    if (nameLength === 0) throw new EventStreamError('header with an empty name');
    need(nameLength + 1);
    const name = utf8(buf, p, p + nameLength, 'header name');
    p += nameLength;
    // Smithy spec: "Any given header name MUST only appear once in a message."
    if (name in headers) throw new EventStreamError(`header ${JSON.stringify(name)} appears twice`);
    const type = buf[p++] as number;
    let value: HeaderValue;
    switch (type) {
      case TYPE_TRUE:
      case TYPE_FALSE:
        value = { type: 'bool', value: type === TYPE_TRUE };
        break;
      case TYPE_BYTE:
        need(1);
        value = { type: 'byte', value: buf.readInt8(p) };
        p += 1;
        break;
      case TYPE_SHORT:
        need(2);
        value = { type: 'short', value: buf.readInt16BE(p) };
        p += 2;
        break;
      case TYPE_INT:
        need(4);
        value = { type: 'int', value: buf.readInt32BE(p) };
        p += 4;
        break;
      case TYPE_LONG:
        need(8);
        value = { type: 'long', value: buf.readBigInt64BE(p) };
        p += 8;
        break;
      case TYPE_TIMESTAMP: {
        need(8);
        const ms = buf.readBigInt64BE(p);
        // 2^53 ms is 285,000 years: a value beyond it is corruption, not a date.
        if (ms > BigInt(Number.MAX_SAFE_INTEGER) || ms < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new EventStreamError(`header ${JSON.stringify(name)}: timestamp ${ms} is out of range`);
        }
        value = { type: 'timestamp', value: Number(ms) };
        p += 8;
        break;
      }
      case TYPE_UUID:
        need(16);
        value = { type: 'uuid', value: Buffer.from(buf.subarray(p, p + 16)) };
        p += 16;
        break;
      case TYPE_BYTES:
      case TYPE_STRING: {
        need(2);
        const n = buf.readUInt16BE(p);
        p += 2;
        need(n);
        value =
          type === TYPE_BYTES
            ? { type: 'bytes', value: Buffer.from(buf.subarray(p, p + n)) }
            : { type: 'string', value: utf8(buf, p, p + n, `header ${JSON.stringify(name)}`) };
        p += n;
        break;
      }
      default:
        throw new EventStreamError(`header ${JSON.stringify(name)} has unknown type ${type}`);
    }
    headers[name] = value;
  }
  return headers;
}

function utf8(buf: Buffer, start: number, end: number, what: string): string {
  try {
    return utf8Decoder.decode(buf.subarray(start, end));
  } catch {
    throw new EventStreamError(`${what} is not valid UTF-8`);
  }
}
