// A minimal proto2 codec for the KPL's messages.proto (checklist 2.1): AggregatedRecord, Record
// and Tag. Only what those messages use: varints and length-delimited fields; unknown fields are
// skipped as protobuf does; missing required fields are a parse error, as in protobuf-java.

export class ProtoError extends Error {
  readonly code = 'ERR_EDDY_BAD_PROTOBUF';
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  n = Math.floor(n / 0x10000000);
  while (n > 0) {
    size++;
    n = Math.floor(n / 128);
  }
  return size;
}

/** Size of a length-delimited field with a one-byte tag (field numbers 1..15). */
export function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/** Encoded size of a `Record` message body. `ehkIdx < 0` means no explicit hash key. */
export function encodedRecordSize(pkIdx: number, ehkIdx: number, dataLen: number): number {
  return 1 + varintSize(pkIdx) + (ehkIdx >= 0 ? 1 + varintSize(ehkIdx) : 0) + fieldSize(dataLen);
}

export function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = n >= 0x80000000 ? Math.floor(n / 128) : n >>> 7;
  }
  buf[pos++] = n;
  return pos;
}

export function writeTag(buf: Buffer, pos: number, field: number, wireType: number): number {
  return writeVarint(buf, pos, (field << 3) | wireType);
}

/** `len` is the UTF-8 byte length of `s` (callers know it already). */
export function writeStringField(buf: Buffer, pos: number, field: number, s: string, len: number): number {
  pos = writeTag(buf, pos, field, 2);
  pos = writeVarint(buf, pos, len);
  // ASCII fast path (most keys): a loop beats a native call for short strings.
  if (len === s.length && len < 64) {
    for (let i = 0; i < len; i++) buf[pos + i] = s.charCodeAt(i);
    return pos + len;
  }
  return pos + buf.write(s, pos, len, 'utf8');
}

export function writeBytesField(buf: Buffer, pos: number, field: number, data: Uint8Array): number {
  pos = writeTag(buf, pos, field, 2);
  pos = writeVarint(buf, pos, data.length);
  buf.set(data, pos);
  return pos + data.length;
}

export interface DecodedRecord {
  pkIdx: number;
  ehkIdx?: number | undefined;
  data: Buffer;
}

export interface DecodedAggregate {
  pkTable: string[];
  ehkTable: string[];
  records: DecodedRecord[];
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  /** Returns [start, end) of a length-delimited payload and moves past it. */
  lengthDelimited(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw new ProtoError('length-delimited field past end of message');
    this.pos = start + len;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.lengthDelimited();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        // Groups (3, 4) are not in messages.proto; anything else is malformed.
        throw new ProtoError(`unsupported wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) throw new ProtoError('truncated fixed-width field');
    this.pos += n;
  }
}

export function decodeAggregatedRecord(buf: Buffer): DecodedAggregate {
  const r = new Reader(buf, 0, buf.length);
  const pkTable: string[] = [];
  const ehkTable: string[] = [];
  const records: DecodedRecord[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const [a, b] = r.lengthDelimited();
      pkTable.push(buf.toString('utf8', a, b));
    } else if (tag === 0x12) {
      const [a, b] = r.lengthDelimited();
      ehkTable.push(buf.toString('utf8', a, b));
    } else if (tag === 0x1a) {
      const [a, b] = r.lengthDelimited();
      records.push(decodeRecord(buf, a, b));
    } else {
      if (tag >>> 3 === 0) throw new ProtoError('field number 0');
      r.skip(tag & 7);
    }
  }
  return { pkTable, ehkTable, records };
}

function decodeRecord(buf: Buffer, start: number, end: number): DecodedRecord {
  const r = new Reader(buf, start, end);
  let pkIdx: number | undefined;
  let ehkIdx: number | undefined;
  let data: Buffer | undefined;
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x08) pkIdx = r.varint();
    else if (tag === 0x10) ehkIdx = r.varint();
    else if (tag === 0x1a) {
      const [a, b] = r.lengthDelimited();
      data = buf.subarray(a, b);
    } else if (tag === 0x22) {
      const [a, b] = r.lengthDelimited();
      decodeTag(buf, a, b);
    } else {
      if (tag >>> 3 === 0) throw new ProtoError('field number 0');
      r.skip(tag & 7);
    }
  }
  if (pkIdx === undefined) throw new ProtoError('Record.partition_key_index (required) missing');
  if (data === undefined) throw new ProtoError('Record.data (required) missing');
  return { pkIdx, ehkIdx, data };
}

/** Tags are parsed only to be validated: neither the KPL nor the KCL exposes them. */
function decodeTag(buf: Buffer, start: number, end: number): void {
  const r = new Reader(buf, start, end);
  let hasKey = false;
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) {
      r.lengthDelimited();
      hasKey = true;
    } else {
      if (tag >>> 3 === 0) throw new ProtoError('field number 0');
      r.skip(tag & 7);
    }
  }
  if (!hasKey) throw new ProtoError('Tag.key (required) missing');
}
