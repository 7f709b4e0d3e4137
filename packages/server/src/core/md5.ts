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
  const n = s.length;
  if (n <= 55 && asciiWords(s, n)) return compress();
  // One 64-byte block holds up to 55 bytes of message; anything longer goes to node:crypto.
  block.fill(0);
  const { read, written } = enc.encodeInto(s, block);
  if (read !== n || written > 55) return fromDigest(hash('md5', s, 'buffer') as unknown as Buffer);
  block[written] = 0x80;
  for (let i = 0; i < 14; i++) words[i] = block[i * 4]! | (block[i * 4 + 1]! << 8) | (block[i * 4 + 2]! << 16) | (block[i * 4 + 3]! << 24);
  words[14] = written * 8;
  words[15] = 0;
  return compress();
}

/**
 * MD5 of bytes [start, end) of a buffer (a partition key already in UTF-8, as the PutRecords fast
 * path leaves it), as md5Words gives it, in the same reused buffer.
 */
export function md5WordsOfBytes(b: Uint8Array, start: number, end: number): Uint32Array {
  const n = end - start;
  if (n > 55) return fromDigest(hash('md5', b.subarray(start, end), 'buffer') as unknown as Buffer);
  const full = n >> 2;
  let k = 0;
  for (let i = start; k < full; k++, i += 4) words[k] = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
  let last = 0;
  for (let i = start + (k << 2), sh = 0; i < end; i++, sh += 8) last |= b[i]! << sh;
  padWords(k, last, n);
  return compress();
}

/** Ends the message words of an n-byte message of one block: word k holds its last bytes (`last`). */
function padWords(k: number, last: number, n: number): void {
  words[k] = last | (0x80 << ((n & 3) << 3));
  for (k++; k < 14; k++) words[k] = 0;
  words[14] = n * 8;
  words[15] = 0;
}

/**
 * An ASCII key of up to 55 characters (most keys) fills the message words straight from its
 * characters, padding included: no encoder call, no byte block. False for any other character.
 */
function asciiWords(s: string, n: number): boolean {
  let any = 0;
  const full = n >> 2;
  let k = 0;
  for (; k < full; k++) {
    const i = k << 2;
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    any |= c0 | c1 | c2 | c3;
    words[k] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
  }
  let last = 0;
  for (let i = k << 2, sh = 0; i < n; i++, sh += 8) {
    const c = s.charCodeAt(i);
    any |= c;
    last |= c << sh;
  }
  if (any >= 0x80) return false;
  padWords(k, last, n);
  return true;
}

/** The MD5 compression of the one block in `words`, as big-endian words into `out`. */
function compress(): Uint32Array {
  steps(words, out);
  return out;
}

/**
 * RFC 1321's 64 steps (section 3.4) unrolled, made once at load from the S and K tables above: the
 * loop form, with a table lookup and a branch per step, took twice as long (~550 against ~250 ns a
 * key), and routing hashes every record's partition key. Writes the digest, read as a big-endian
 * integer, into `o` as four words.
 */
const steps = ((): ((w: Int32Array, o: Uint32Array) => void) => {
  const f = ['(b & c) | (~b & d)', '(d & b) | (~d & c)', 'b ^ c ^ d', 'c ^ (b | ~d)'];
  const g = (i: number): number => [i, (5 * i + 1) & 15, (3 * i + 5) & 15, (7 * i) & 15][i >> 4]!;
  const body = ['let a = 0x67452301, b = -271733879, c = -1732584194, d = 0x10325476, t = 0, x = 0;'];
  for (let i = 0; i < 64; i++) {
    body.push(`x = (a + (${f[i >> 4]}) + ${K[i]} + w[${g(i)}]) | 0; t = d; d = c; c = b; b = (b + ((x << ${S[i]}) | (x >>> ${32 - S[i]!}))) | 0; a = t;`);
  }
  const swap = (v: string): string => `((((${v}) & 0xff) << 24) | (((${v}) & 0xff00) << 8) | (((${v}) >>> 8) & 0xff00) | ((${v}) >>> 24)) >>> 0`;
  body.push('a = (a + 0x67452301) | 0; b = (b - 271733879) | 0; c = (c - 1732584194) | 0; d = (d + 0x10325476) | 0;');
  body.push(`o[0] = ${swap('a')}; o[1] = ${swap('b')}; o[2] = ${swap('c')}; o[3] = ${swap('d')};`);
  return new Function('w', 'o', body.join('\n')) as (w: Int32Array, o: Uint32Array) => void;
})();

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
