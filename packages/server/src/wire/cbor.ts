/**
 * CBOR (RFC 8949) for `application/x-amz-cbor-1.1`: the body format the AWS SDK for Java (v1 and v2),
 * and so the KCL, uses for Kinesis unless CBOR is switched off (checklist section 1.2).
 *
 * The decoder reads untrusted request bodies, so it is strict: every length is checked against the
 * bytes that remain before anything is allocated, nesting is bounded, and every failure is a
 * CborError (never a RangeError or TypeError from below). Tags are handed back as CborTagged for the
 * caller to interpret, because the Java SDK bends tag 1: it writes epoch MILLISECONDS where RFC 8949
 * says seconds (checklist section 1.2, `SdkCborGenerator.writeValue(Instant)`).
 *
 * The encoder writes GetRecords answers of up to 10,000 records, so it writes into one growable
 * buffer that is kept between calls, and copies the result out once.
 */

/** A CBOR data item the codec cannot read or a value it cannot write. */
export class CborError extends Error {
  /** Byte offset in the input where decoding failed; undefined for encoding errors. */
  readonly offset: number | undefined;

  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'CborError';
    this.offset = offset;
  }
}

/** A tagged data item (major type 6). The codec gives no tag a meaning; callers do. */
export class CborTagged {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

/**
 * Containers (arrays, maps, tags) nest at most this deep. Kinesis bodies nest four or five levels;
 * the bound keeps hostile input from exhausting the stack. The encoder holds itself to the same
 * bound, so whatever it writes the decoder reads back.
 */
export const CBOR_MAX_DEPTH = 64;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TWO_32 = 4294967296;
const TWO_64 = 1n << 64n;
const BREAK = 0xff;

// fatal: invalid UTF-8 must be an error, not U+FFFD. ignoreBOM: a leading U+FEFF is data, and the
// default would silently drop it from a partition key.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Decodes exactly one CBOR data item that spans all of `buf`.
 *
 * Integers come back as numbers when safe and bigints otherwise; byte strings as Buffers (copies,
 * so a 100-byte record never pins a 10 MiB request body in memory); text as strings; maps as
 * null-prototype objects with text keys; half/single/double floats as numbers; every tag as
 * CborTagged. Throws CborError on anything malformed or outside what the Kinesis wire needs.
 */
export function decodeCbor(buf: Uint8Array): unknown {
  const d = new Decoder(buf);
  const value = d.item(0);
  if (d.pos !== buf.length) d.fail(`${buf.length - d.pos} trailing byte(s) after the data item`);
  return value;
}

/**
 * Map keys repeat (a GetRecords or PutRecords body has the same four member names per record), and
 * a fresh string used as a property key costs V8 a string-table lookup each time. Short keys are
 * therefore looked up here by their bytes first. Direct-mapped, bounded, and always verified
 * byte for byte, so hostile input can only cause misses.
 */
const KEY_CACHE_SLOTS = 1024;
const KEY_CACHE_MAX_BYTES = 32;
const keyCacheBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(KEY_CACHE_SLOTS);
const keyCacheStrings: string[] = new Array<string>(KEY_CACHE_SLOTS);

class Decoder {
  pos = 0;
  private readonly buf: Buffer;
  private readonly view: DataView;

  constructor(input: Uint8Array) {
    // A Buffer view (no copy) for its native latin1 decoding and copy.
    this.buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }

  fail(message: string): never {
    throw new CborError(message, this.pos);
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) this.fail('unexpected end of input');
  }

  private byte(): number {
    if (this.pos >= this.buf.length) this.fail('unexpected end of input');
    return this.buf[this.pos++] as number;
  }

  /**
   * The argument of a head whose value is a length or count. A 64-bit argument past 2^53 comes
   * back rounded, which is harmless: callers compare it with the bytes left, and no buffer is
   * anywhere near that long.
   */
  private argument(ai: number): number {
    if (ai < 24) return ai;
    let v: number;
    switch (ai) {
      case 24:
        return this.byte();
      case 25:
        this.need(2);
        v = this.view.getUint16(this.pos);
        this.pos += 2;
        return v;
      case 26:
        this.need(4);
        v = this.view.getUint32(this.pos);
        this.pos += 4;
        return v;
      case 27:
        this.need(8);
        v = this.view.getUint32(this.pos) * TWO_32 + this.view.getUint32(this.pos + 4);
        this.pos += 8;
        return v;
      // Called right after the initial byte: step back so the error points at it.
      case 31:
        this.pos--;
        return this.fail('indefinite length is not allowed here');
      default:
        this.pos--;
        return this.fail(`reserved additional information value ${ai}`);
    }
  }

  /** A length that must fit in the input, `unit` bytes per element at the least. */
  private length(ai: number, unit: number): number {
    const start = this.pos - 1;
    const n = this.argument(ai);
    if (n * unit > this.buf.length - this.pos) {
      this.pos = start;
      this.fail(`length ${n} runs past the end of the input`);
    }
    return n;
  }

  /** Major types 0 and 1: the value is exact, as a bigint when a number would lose precision. */
  private integer(ai: number, negative: boolean): number | bigint {
    if (ai === 27) {
      this.need(8);
      const hi = this.view.getUint32(this.pos);
      const lo = this.view.getUint32(this.pos + 4);
      this.pos += 8;
      // hi < 2^21 means the value is below 2^53.
      if (hi >= 0x200000 || (negative && hi === 0x1fffff && lo === 0xffffffff)) {
        const n = (BigInt(hi) << 32n) | BigInt(lo);
        return negative ? -1n - n : n;
      }
      const n = hi * TWO_32 + lo;
      return negative ? -1 - n : n;
    }
    const n = this.argument(ai);
    return negative ? -1 - n : n;
  }

  item(depth: number): unknown {
    const ib = this.byte();
    const ai = ib & 0x1f;
    switch (ib >> 5) {
      case 0:
        return ai < 24 ? ai : this.integer(ai, false);
      case 1:
        return ai < 24 ? -1 - ai : this.integer(ai, true);
      case 2:
        return ai === 31 ? this.indefiniteBytes() : this.bytes(this.length(ai, 1));
      case 3:
        return ai === 31 ? this.indefiniteText() : this.text(this.length(ai, 1));
      case 4:
        this.enter(depth);
        return ai === 31 ? this.indefiniteArray(depth) : this.array(this.length(ai, 1), depth);
      case 5:
        this.enter(depth);
        return ai === 31 ? this.indefiniteMap(depth) : this.map(this.length(ai, 2), depth);
      case 6:
        this.enter(depth);
        return new CborTagged(this.tagNumber(ai), this.item(depth + 1));
      default:
        return this.simple(ai);
    }
  }

  private enter(depth: number): void {
    if (depth >= CBOR_MAX_DEPTH) {
      this.pos--;
      this.fail(`nesting deeper than ${CBOR_MAX_DEPTH}`);
    }
  }

  private tagNumber(ai: number): number {
    const n = this.argument(ai);
    // CborTagged.tag is a number; registered tags are small, and the Java SDK only writes tag 1.
    if (n > MAX_SAFE) this.fail('tag number beyond 2^53');
    return n;
  }

  private simple(ai: number): unknown {
    let v: number;
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24:
        v = this.byte();
        // RFC 8949 section 3.3: simple values below 32 must use the one-byte form.
        return this.fail(v < 32 ? `simple value ${v} in two-byte form` : `unsupported simple value ${v}`);
      case 25:
        this.need(2);
        v = halfToNumber(this.view.getUint16(this.pos));
        this.pos += 2;
        return v;
      case 26:
        this.need(4);
        v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      case 27:
        this.need(8);
        v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      case 28:
      case 29:
      case 30:
        this.pos--;
        return this.fail(`reserved additional information value ${ai}`);
      case 31:
        this.pos--;
        return this.fail('break code outside an indefinite-length item');
      default:
        this.pos--;
        return this.fail(`unsupported simple value ${ai}`);
    }
  }

  private bytes(n: number): Buffer {
    const start = this.pos;
    this.pos += n;
    // A copy, not a view: see decodeCbor.
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, start, start + n);
    return out;
  }

  private text(n: number): string {
    const buf = this.buf;
    const start = this.pos;
    const end = start + n;
    this.pos = end;
    // Nearly every string on the Kinesis wire is ASCII (names, sequence numbers, iterators), and
    // for ASCII latin1 decoding is UTF-8 decoding, only faster than TextDecoder.
    let i = start;
    while (i < end && (buf[i] as number) < 0x80) i++;
    if (i === end) return buf.toString('latin1', start, end);
    try {
      return utf8Decoder.decode(buf.subarray(start, end));
    } catch {
      this.pos = start;
      return this.fail('text string is not valid UTF-8');
    }
  }

  /** A definite-length map key of n bytes, through the key cache. */
  private keyText(n: number): string {
    if (n > KEY_CACHE_MAX_BYTES) return this.text(n);
    const buf = this.buf;
    const start = this.pos;
    const end = start + n;
    let h = n;
    for (let i = start; i < end; i++) h = (Math.imul(h, 31) + (buf[i] as number)) | 0;
    const slot = h & (KEY_CACHE_SLOTS - 1);
    const cached = keyCacheBytes[slot];
    if (cached !== undefined && cached.length === n) {
      let j = 0;
      while (j < n && cached[j] === buf[start + j]) j++;
      if (j === n) {
        this.pos = end;
        return keyCacheStrings[slot] as string;
      }
    }
    const s = this.text(n);
    keyCacheBytes[slot] = Uint8Array.prototype.slice.call(buf, start, end);
    keyCacheStrings[slot] = s;
    return s;
  }

  /** RFC 8949 section 3.2.3: chunks are definite-length strings of the same major type. */
  private chunkLength(major: number, what: string): number | undefined {
    const ib = this.byte();
    if (ib === BREAK) return undefined;
    if (ib >> 5 !== major || (ib & 0x1f) === 31) {
      this.pos--;
      this.fail(`indefinite-length ${what} chunk is not a definite-length ${what}`);
    }
    return this.length(ib & 0x1f, 1);
  }

  private indefiniteBytes(): Buffer {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const n = this.chunkLength(2, 'byte string');
      if (n === undefined) return Buffer.concat(chunks, total);
      chunks.push(this.buf.subarray(this.pos, this.pos + n));
      this.pos += n;
      total += n;
    }
  }

  private indefiniteText(): string {
    // Each chunk must be valid UTF-8 on its own: a character may not straddle chunks.
    let s = '';
    for (;;) {
      const n = this.chunkLength(3, 'text string');
      if (n === undefined) return s;
      s += this.text(n);
    }
  }

  private array(n: number, depth: number): unknown[] {
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.item(depth + 1);
    return out;
  }

  private indefiniteArray(depth: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      this.need(1);
      if (this.buf[this.pos] === BREAK) {
        this.pos++;
        return out;
      }
      out.push(this.item(depth + 1));
    }
  }

  private map(n: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i < n; i++) this.entry(out, depth);
    return out;
  }

  private indefiniteMap(depth: number): Record<string, unknown> {
    // Jackson's CBORGenerator, under the Java SDK, writes every object this way.
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (;;) {
      this.need(1);
      if (this.buf[this.pos] === BREAK) {
        this.pos++;
        return out;
      }
      this.entry(out, depth);
    }
  }

  private entry(out: Record<string, unknown>, depth: number): void {
    const start = this.pos;
    const ib = this.byte();
    if (ib >> 5 !== 3) {
      this.pos = start;
      this.fail('map key is not a text string');
    }
    const ai = ib & 0x1f;
    const key = ai === 31 ? this.indefiniteText() : this.keyText(this.length(ai, 1));
    // RFC 8949 section 5.6: a map with duplicate keys is not valid; which one a reader keeps is
    // undefined, so refuse rather than guess.
    if (key in out) {
      this.pos = start;
      this.fail(`duplicate map key ${JSON.stringify(key)}`);
    }
    out[key] = this.item(depth + 1);
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

const INITIAL_CAPACITY = 64 * 1024;
/** A buffer that grew past this is dropped after the call rather than kept for the next one. */
const KEEP_CAPACITY = 16 * 1024 * 1024;

const f32Scratch = new DataView(new ArrayBuffer(4));

/**
 * Encodes a value as one CBOR data item.
 *
 * Strings → text; Buffer/Uint8Array → byte string; safe integers → the shortest integer head;
 * other numbers → the shortest float (half, single or double) that holds them exactly; bigints →
 * integers, or tag 2/3 bignums beyond 64 bits; booleans, null, undefined → simple values; arrays;
 * plain objects and Maps (text keys only) → definite-length maps, leaving out undefined members;
 * CborTagged → tag + value. Anything else (Date, class instances, functions, symbols) is refused
 * with a CborError, since silently picking an encoding for it would hide a bug.
 *
 * Not every value comes back as it went in: bigints within 64 bits decode as numbers when safe,
 * bignums as CborTagged(2 | 3, bytes), Uint8Arrays as Buffers, objects with a null prototype.
 */
export function encodeCbor(value: unknown): Buffer {
  // Take the shared encoder so that a nested call (a getter that encodes) gets its own.
  const enc = spare ?? new Encoder();
  spare = undefined;
  enc.pos = 0;
  try {
    enc.value(value, 0);
    const out = Buffer.allocUnsafe(enc.pos);
    enc.buf.copy(out, 0, 0, enc.pos);
    return out;
  } finally {
    if (enc.buf.length <= KEEP_CAPACITY) spare = enc;
  }
}

let spare: Encoder | undefined;

class Encoder {
  buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
  }

  /** A head with a non-negative safe-integer argument, in its shortest form. */
  private head(major: number, n: number): void {
    this.ensure(9);
    const buf = this.buf;
    const p = this.pos;
    const mt = major << 5;
    if (n < 24) {
      buf[p] = mt | n;
      this.pos = p + 1;
    } else if (n < 0x100) {
      buf[p] = mt | 24;
      buf[p + 1] = n;
      this.pos = p + 2;
    } else if (n < 0x10000) {
      buf[p] = mt | 25;
      buf[p + 1] = n >>> 8;
      buf[p + 2] = n & 0xff;
      this.pos = p + 3;
    } else if (n < TWO_32) {
      buf[p] = mt | 26;
      buf.writeUInt32BE(n, p + 1);
      this.pos = p + 5;
    } else {
      buf[p] = mt | 27;
      buf.writeUInt32BE(Math.floor(n / TWO_32), p + 1);
      buf.writeUInt32BE(n >>> 0, p + 5);
      this.pos = p + 9;
    }
  }

  /** A head with a bigint argument below 2^64. */
  private bigHead(major: number, n: bigint): void {
    if (n <= BigInt(MAX_SAFE)) return this.head(major, Number(n));
    this.ensure(9);
    this.buf[this.pos] = (major << 5) | 27;
    this.buf.writeBigUInt64BE(n, this.pos + 1);
    this.pos += 9;
  }

  private byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        return this.text(v);
      case 'number':
        return this.number(v);
      case 'boolean':
        return this.byte(v ? 0xf5 : 0xf4);
      case 'undefined':
        return this.byte(0xf7);
      case 'bigint':
        return this.bigint(v);
      case 'object':
        if (v === null) return this.byte(0xf6);
        return this.object(v, depth);
      default:
        throw new CborError(`cannot encode a value of type ${typeof v}`);
    }
  }

  private object(v: object, depth: number): void {
    if (depth >= CBOR_MAX_DEPTH) throw new CborError(`nesting deeper than ${CBOR_MAX_DEPTH} (a cycle?)`);
    if (Array.isArray(v)) {
      const items: readonly unknown[] = v;
      this.head(4, items.length);
      for (const item of items) this.value(item, depth + 1);
      return;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return this.record(v as Record<string, unknown>, depth);
    if (v instanceof Uint8Array) return this.bytes(v);
    if (v instanceof CborTagged) {
      if (!Number.isSafeInteger(v.tag) || v.tag < 0) throw new CborError(`invalid tag number ${v.tag}`);
      this.head(6, v.tag);
      return this.value(v.value, depth + 1);
    }
    if (v instanceof Map) return this.map(v as Map<unknown, unknown>, depth);
    const name = (proto as { constructor?: { name?: unknown } } | undefined)?.constructor?.name;
    throw new CborError(`cannot encode an instance of ${typeof name === 'string' ? name : 'an unknown class'}`);
  }

  private record(o: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(o);
    let n = 0;
    for (const k of keys) if (o[k] !== undefined) n++;
    this.head(5, n);
    for (const k of keys) {
      const item = o[k];
      if (item === undefined) continue;
      this.text(k);
      this.value(item, depth + 1);
    }
  }

  private map(m: Map<unknown, unknown>, depth: number): void {
    let n = 0;
    for (const [k, item] of m) {
      // The decoder accepts only text keys, so the encoder writes only text keys.
      if (typeof k !== 'string') throw new CborError(`cannot encode a Map key of type ${typeof k}`);
      if (item !== undefined) n++;
    }
    this.head(5, n);
    for (const [k, item] of m) {
      if (item === undefined) continue;
      this.text(k as string);
      this.value(item, depth + 1);
    }
  }

  private bytes(b: Uint8Array): void {
    this.head(2, b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  private text(s: string): void {
    const len = s.length;
    if (len <= 64) {
      // Guess ASCII: then the byte length is the string length and the head is known up front,
      // so one pass writes it. Fall back on the first non-ASCII character.
      const start = this.pos;
      this.head(3, len);
      this.ensure(len);
      const buf = this.buf;
      let p = this.pos;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === len) {
        this.pos = p;
        return;
      }
      this.pos = start;
    }
    // Lone surrogates become U+FFFD (3 bytes) in both byteLength and write, so the two agree and
    // the output is always valid UTF-8.
    const n = Buffer.byteLength(s, 'utf8');
    this.head(3, n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  private number(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v > 0 || (v === 0 && 1 / v > 0)) return this.head(0, v);
      if (v < 0) return this.head(1, -1 - v);
      // -0 falls through: only a float keeps its sign.
    }
    this.float(v);
  }

  private float(v: number): void {
    this.ensure(9);
    const buf = this.buf;
    const p = this.pos;
    if (Number.isNaN(v)) {
      // The canonical quiet NaN (RFC 8949 section 4.2.2).
      buf[p] = 0xf9;
      buf[p + 1] = 0x7e;
      buf[p + 2] = 0x00;
      this.pos = p + 3;
      return;
    }
    if (Math.fround(v) === v) {
      const h = halfBits(v);
      if (h >= 0) {
        buf[p] = 0xf9;
        buf[p + 1] = h >>> 8;
        buf[p + 2] = h & 0xff;
        this.pos = p + 3;
        return;
      }
      buf[p] = 0xfa;
      buf.writeFloatBE(v, p + 1);
      this.pos = p + 5;
      return;
    }
    buf[p] = 0xfb;
    buf.writeDoubleBE(v, p + 1);
    this.pos = p + 9;
  }

  private bigint(v: bigint): void {
    if (v >= 0n) {
      if (v < TWO_64) return this.bigHead(0, v);
      return this.bignum(2, v);
    }
    const n = -1n - v;
    if (n < TWO_64) return this.bigHead(1, n);
    return this.bignum(3, n);
  }

  /** RFC 8949 section 3.4.3: tag 2 (or 3 for -1 - n) over the big-endian bytes of n. */
  private bignum(tag: 2 | 3, n: bigint): void {
    let hex = n.toString(16);
    if (hex.length % 2 === 1) hex = '0' + hex;
    this.head(6, tag);
    this.bytes(Buffer.from(hex, 'hex'));
  }
}

/**
 * The IEEE half-precision bits of v, or -1 when v (already known to be an exact float32) is not
 * exactly a half. Works from v's float32 bits.
 */
function halfBits(v: number): number {
  f32Scratch.setFloat32(0, v);
  const bits = f32Scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : -1;
  // float32 zeros; float32 subnormals are far below the smallest half.
  if (exp === 0) return mant === 0 ? sign : -1;
  const e = exp - 127;
  if (e >= -14 && e <= 15) return (mant & 0x1fff) === 0 ? sign | ((e + 15) << 10) | (mant >>> 13) : -1;
  if (e >= -24 && e < -14) {
    // Half subnormals are m * 2^-24; with the implicit bit, v = full * 2^(e-23).
    const full = mant | 0x800000;
    const shift = -1 - e;
    return (full & ((1 << shift) - 1)) === 0 ? sign | (full >>> shift) : -1;
  }
  return -1;
}
