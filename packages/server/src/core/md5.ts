import { hash } from 'node:crypto';

/**
 * MD5 of a partition key, as an unsigned 128-bit integer. Partition keys are short (≤ 256
 * characters), where the call into OpenSSL costs more than the hashing: this RFC 1321
 * implementation in plain JavaScript is several times faster for them (measured in bench/), and
 * anything longer than one block goes to node:crypto.
 */
const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;

const block = new Uint8Array(64);
const words = new Int32Array(16);
const enc = new TextEncoder();

/** MD5(utf8(s)) read big-endian as an unsigned 128-bit integer. */
export function md5BigInt(s: string): bigint {
  const w = md5Words(s);
  return (((BigInt(w[0]!) << 32n) | BigInt(w[1]!)) << 64n) | (BigInt(w[2]!) << 32n) | BigInt(w[3]!);
}

const out = new Uint32Array(4);

/**
 * MD5(utf8(s)) as four big-endian 32-bit words, most significant first, in a buffer reused by the
 * next call: routing compares these against shard boundaries without allocating a BigInt.
 */
export function md5Words(s: string): Uint32Array {
  // One 64-byte block holds up to 55 bytes of message; a UTF-8 character takes at most 3 bytes
  // per UTF-16 unit, so 18 units always fit.
  if (s.length > 18) {
    const { written } = enc.encodeInto(s, block.subarray(0, 56));
    if (written === undefined || written > 55 || enc.encodeInto(s, block.subarray(0, 56)).read !== s.length) {
      return fromDigest(hash('md5', s, 'buffer') as unknown as Buffer);
    }
  }
  return words4(s);
}

function words4(s: string): Uint32Array {
  block.fill(0);
  const { read, written } = enc.encodeInto(s, block);
  if (read !== s.length || written > 55) return fromDigest(hash('md5', s, 'buffer') as unknown as Buffer);
  block[written] = 0x80;
  for (let i = 0; i < 14; i++) words[i] = block[i * 4]! | (block[i * 4 + 1]! << 8) | (block[i * 4 + 2]! << 16) | (block[i * 4 + 3]! << 24);
  words[14] = written * 8;
  words[15] = 0;
  let a = 0x67452301;
  let b = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const t = d;
    d = c;
    c = b;
    const x = (a + f + K[i]! + words[g]!) | 0;
    const s = S[i]!;
    b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
    a = t;
  }
  a = (a + 0x67452301) | 0;
  b = (b + (0xefcdab89 | 0)) | 0;
  c = (c + (0x98badcfe | 0)) | 0;
  d = (d + 0x10325476) | 0;
  // The digest is the little-endian bytes of a, b, c, d; read it as a big-endian integer.
  out[0] = swap(a);
  out[1] = swap(b);
  out[2] = swap(c);
  out[3] = swap(d);
  return out;
}

function swap(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

function fromDigest(d: Buffer): Uint32Array {
  out[0] = d.readUInt32BE(0);
  out[1] = d.readUInt32BE(4);
  out[2] = d.readUInt32BE(8);
  out[3] = d.readUInt32BE(12);
  return out;
}

/** The four big-endian 32-bit words of a 128-bit integer. */
export function toWords(v: bigint): [number, number, number, number] {
  const m = 0xffffffffn;
  return [Number((v >> 96n) & m), Number((v >> 64n) & m), Number((v >> 32n) & m), Number(v & m)];
}
