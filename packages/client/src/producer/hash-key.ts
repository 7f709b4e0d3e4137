// The producer needs the MD5 of every partition key to pick its shard (checklist 2.3). node:crypto
// costs ~1.5 µs a call here (native call, a Buffer for the key, a hex string back, and the GC of
// both); this MD5 in JS works on a reused buffer and returns the digest as four words, ~0.2 µs
// for a short key (bench/producer.mjs). Tested against node:crypto in test/producer/hash-key.test.ts.
//
// Words are "biased": each big-endian 32-bit word of the 128-bit hash key XOR 0x80000000 as a
// signed int32, so that plain `<` on them orders like the unsigned words (and they stay small
// integers in V8).

import { createHash } from 'node:crypto';

/** The last result of md5Words / bigintWords. */
export const out = new Int32Array(4);
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

let buf = new Uint8Array(1088);
let view = new Int32Array(buf.buffer);

// The rounds below are unrolled (RFC 1321 section 3.4; constants K[i] = floor(|sin(i + 1)| * 2^32)
// as int32): the loop form was three times slower.

function bswapBias(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) ^ 0x80000000;
}

/**
 * MD5 of the UTF-8 bytes of `s`, into `out` as biased big-endian words. Returns the UTF-8 length.
 */
export function md5Words(s: string): number {
  if (!LITTLE_ENDIAN) {
    const d = createHash('md5').update(s, 'utf8').digest();
    for (let i = 0; i < 4; i++) out[i] = d.readInt32BE(i * 4) ^ 0x80000000;
    return Buffer.byteLength(s, 'utf8');
  }
  const n = s.length;
  let len = 0;
  let bytes = -1;
  if (n <= 55) {
    // One block, ASCII: the 16 message words are written whole (no read-modify-write, no fill).
    const w = view;
    const full = n >> 2;
    let k = 0;
    let ascii = 0;
    for (; k < full; k++) {
      const i = k << 2;
      const c0 = s.charCodeAt(i);
      const c1 = s.charCodeAt(i + 1);
      const c2 = s.charCodeAt(i + 2);
      const c3 = s.charCodeAt(i + 3);
      ascii |= c0 | c1 | c2 | c3;
      w[k] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    }
    // The last, partial word carries the 0x80 padding byte.
    let last = 0;
    for (let i = k << 2, sh = 0; i < n; i++, sh += 8) {
      const c = s.charCodeAt(i);
      ascii |= c;
      last |= c << sh;
    }
    w[k] = last | (0x80 << ((n & 3) << 3));
    for (k++; k < 14; k++) w[k] = 0;
    w[14] = n * 8;
    w[15] = 0;
    if (ascii < 0x80) {
      bytes = n;
      len = 64;
    }
  }
  if (bytes < 0) {
    len = encodeAndPad(s);
    bytes = encodedBytes;
  }
  // Int32Array reads are little-endian on the platforms this path runs on (checked above).
  const w = view;
  let a0 = 0x67452301;
  let b0 = -271733879;
  let c0 = -1732584194;
  let d0 = 0x10325476;
  for (let base = 0; base < len >> 2; base += 16) {
    const x0 = w[base + 0] as number;
    const x1 = w[base + 1] as number;
    const x2 = w[base + 2] as number;
    const x3 = w[base + 3] as number;
    const x4 = w[base + 4] as number;
    const x5 = w[base + 5] as number;
    const x6 = w[base + 6] as number;
    const x7 = w[base + 7] as number;
    const x8 = w[base + 8] as number;
    const x9 = w[base + 9] as number;
    const x10 = w[base + 10] as number;
    const x11 = w[base + 11] as number;
    const x12 = w[base + 12] as number;
    const x13 = w[base + 13] as number;
    const x14 = w[base + 14] as number;
    const x15 = w[base + 15] as number;
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    a = ((b & c) | (~b & d)) + a + -680876936 + x0;
    a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((a & b) | (~a & c)) + d + -389564586 + x1;
    d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((d & a) | (~d & b)) + c + 606105819 + x2;
    c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((c & d) | (~c & a)) + b + -1044525330 + x3;
    b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((b & c) | (~b & d)) + a + -176418897 + x4;
    a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((a & b) | (~a & c)) + d + 1200080426 + x5;
    d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((d & a) | (~d & b)) + c + -1473231341 + x6;
    c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((c & d) | (~c & a)) + b + -45705983 + x7;
    b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((b & c) | (~b & d)) + a + 1770035416 + x8;
    a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((a & b) | (~a & c)) + d + -1958414417 + x9;
    d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((d & a) | (~d & b)) + c + -42063 + x10;
    c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((c & d) | (~c & a)) + b + -1990404162 + x11;
    b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((b & c) | (~b & d)) + a + 1804603682 + x12;
    a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((a & b) | (~a & c)) + d + -40341101 + x13;
    d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((d & a) | (~d & b)) + c + -1502002290 + x14;
    c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((c & d) | (~c & a)) + b + 1236535329 + x15;
    b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((d & b) | (~d & c)) + a + -165796510 + x1;
    a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((c & a) | (~c & b)) + d + -1069501632 + x6;
    d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((b & d) | (~b & a)) + c + 643717713 + x11;
    c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((a & c) | (~a & d)) + b + -373897302 + x0;
    b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((d & b) | (~d & c)) + a + -701558691 + x5;
    a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((c & a) | (~c & b)) + d + 38016083 + x10;
    d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((b & d) | (~b & a)) + c + -660478335 + x15;
    c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((a & c) | (~a & d)) + b + -405537848 + x4;
    b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((d & b) | (~d & c)) + a + 568446438 + x9;
    a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((c & a) | (~c & b)) + d + -1019803690 + x14;
    d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((b & d) | (~b & a)) + c + -187363961 + x3;
    c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((a & c) | (~a & d)) + b + 1163531501 + x8;
    b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((d & b) | (~d & c)) + a + -1444681467 + x13;
    a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((c & a) | (~c & b)) + d + -51403784 + x2;
    d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((b & d) | (~b & a)) + c + 1735328473 + x7;
    c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((a & c) | (~a & d)) + b + -1926607734 + x12;
    b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = (b ^ c ^ d) + a + -378558 + x5;
    a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = (a ^ b ^ c) + d + -2022574463 + x8;
    d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (d ^ a ^ b) + c + 1839030562 + x11;
    c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = (c ^ d ^ a) + b + -35309556 + x14;
    b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = (b ^ c ^ d) + a + -1530992060 + x1;
    a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = (a ^ b ^ c) + d + 1272893353 + x4;
    d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (d ^ a ^ b) + c + -155497632 + x7;
    c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = (c ^ d ^ a) + b + -1094730640 + x10;
    b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = (b ^ c ^ d) + a + 681279174 + x13;
    a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = (a ^ b ^ c) + d + -358537222 + x0;
    d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (d ^ a ^ b) + c + -722521979 + x3;
    c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = (c ^ d ^ a) + b + 76029189 + x6;
    b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = (b ^ c ^ d) + a + -640364487 + x9;
    a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = (a ^ b ^ c) + d + -421815835 + x12;
    d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (d ^ a ^ b) + c + 530742520 + x15;
    c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = (c ^ d ^ a) + b + -995338651 + x2;
    b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = (c ^ (b | ~d)) + a + -198630844 + x0;
    a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = (b ^ (a | ~c)) + d + 1126891415 + x7;
    d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (a ^ (d | ~b)) + c + -1416354905 + x14;
    c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = (d ^ (c | ~a)) + b + -57434055 + x5;
    b = (((b << 21) | (b >>> 11)) + c) | 0;
    a = (c ^ (b | ~d)) + a + 1700485571 + x12;
    a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = (b ^ (a | ~c)) + d + -1894986606 + x3;
    d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (a ^ (d | ~b)) + c + -1051523 + x10;
    c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = (d ^ (c | ~a)) + b + -2054922799 + x1;
    b = (((b << 21) | (b >>> 11)) + c) | 0;
    a = (c ^ (b | ~d)) + a + 1873313359 + x8;
    a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = (b ^ (a | ~c)) + d + -30611744 + x15;
    d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (a ^ (d | ~b)) + c + -1560198380 + x6;
    c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = (d ^ (c | ~a)) + b + 1309151649 + x13;
    b = (((b << 21) | (b >>> 11)) + c) | 0;
    a = (c ^ (b | ~d)) + a + -145523070 + x4;
    a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = (b ^ (a | ~c)) + d + -1120210379 + x11;
    d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (a ^ (d | ~b)) + c + 718787259 + x2;
    c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = (d ^ (c | ~a)) + b + -343485551 + x9;
    b = (((b << 21) | (b >>> 11)) + c) | 0;
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  out[0] = bswapBias(a0);
  out[1] = bswapBias(b0);
  out[2] = bswapBias(c0);
  out[3] = bswapBias(d0);
  return bytes;
}

/** A 128-bit hash key into `out` as biased words. */
export function bigintWords(v: bigint): void {
  out[0] = Number((v >> 96n) & 0xffffffffn) ^ 0x80000000;
  out[1] = Number((v >> 64n) & 0xffffffffn) ^ 0x80000000;
  out[2] = Number((v >> 32n) & 0xffffffffn) ^ 0x80000000;
  out[3] = Number(v & 0xffffffffn) ^ 0x80000000;
}

/** Biased words back to the hash key. */
export function wordsBigint(w0: number, w1: number, w2: number, w3: number): bigint {
  const u = (x: number): bigint => BigInt((x ^ 0x80000000) >>> 0);
  return (u(w0) << 96n) | (u(w1) << 64n) | (u(w2) << 32n) | u(w3);
}

/** Compares (a0..a3) with (b0..b3): negative, 0 or positive. */
export function compareWords(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number): number {
  if (a0 !== b0) return a0 - b0;
  if (a1 !== b1) return a1 - b1;
  if (a2 !== b2) return a2 - b2;
  return a3 - b3;
}

let encodedBytes = 0;

/** UTF-8 encodes `s` into buf with MD5 padding; returns the padded length (a multiple of 64). */
function encodeAndPad(s: string): number {
  const n = s.length;
  let len = 0;
  if (n * 3 + 72 > buf.length) {
    buf = new Uint8Array(n * 3 + 72 + 64);
    view = new Int32Array(buf.buffer);
  }
  const b = buf;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) b[len++] = c;
    else if (c < 0x800) {
      b[len++] = 0xc0 | (c >> 6);
      b[len++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[len++] = 0xf0 | (c >> 18);
          b[len++] = 0x80 | ((c >> 12) & 63);
          b[len++] = 0x80 | ((c >> 6) & 63);
          b[len++] = 0x80 | (c & 63);
          continue;
        }
      }
      // Lone surrogates become U+FFFD, as Buffer.from(s, 'utf8') does.
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      b[len++] = 0xe0 | (c >> 12);
      b[len++] = 0x80 | ((c >> 6) & 63);
      b[len++] = 0x80 | (c & 63);
    }
  }
  const bytes = len;
  encodedBytes = bytes;
  b[len++] = 0x80;
  while (len % 64 !== 56) b[len++] = 0;
  // Length in bits, little-endian 64-bit (bytes < 2^29 here, so the high word is 0).
  const bits = bytes * 8;
  b[len++] = bits & 0xff;
  b[len++] = (bits >>> 8) & 0xff;
  b[len++] = (bits >>> 16) & 0xff;
  b[len++] = (bits >>> 24) & 0xff;
  b[len++] = 0;
  b[len++] = 0;
  b[len++] = 0;
  b[len++] = 0;
  return len;
}
