/**
 * Sequence numbers in AWS's shape: 56-digit decimals (checklist 1.4). The layout follows the
 * version-2 layout that kinesalite reverse-engineered from real AWS sequence numbers, read as one
 * 188-bit integer, most significant first:
 *
 *   version (4 bits, = 2) | shard creation, epoch seconds (36) | shard index low nibble (4)
 *   | position in shard (64) | reserved (8) | record arrival, epoch seconds (36)
 *   | shard index (32) | version again (4, = 2)
 *
 * Within a shard every field above `position` is constant, so sequence numbers compare (as
 * integers) exactly as positions do: strictly increasing per shard. The shard creation time and
 * index let us tell which shard and which stream generation a number came from.
 */
export type SequenceNumber = string & { readonly __brand: 'SequenceNumber' };

export interface SequenceParts {
  /** Shard creation, epoch seconds. */
  readonly shardCreatedSec: number;
  readonly shardIndex: number;
  readonly position: bigint;
  /** Record arrival, epoch seconds. */
  readonly arrivalSec: number;
}

const M36 = (1n << 36n) - 1n;
const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;

export function encodeSequenceNumber(p: SequenceParts): SequenceNumber {
  const idx = BigInt(p.shardIndex);
  const v =
    (2n << 184n) |
    ((BigInt(p.shardCreatedSec) & M36) << 148n) |
    ((idx & 0xfn) << 144n) |
    ((p.position & M64) << 80n) |
    ((BigInt(p.arrivalSec) & M36) << 36n) |
    ((idx & M32) << 4n) |
    2n;
  return v.toString() as SequenceNumber;
}

/** Limbs of base 10^4, least significant first: sums of limb products stay exact in int arithmetic. */
const LIMB = 10_000;
const LIMBS = 15; // 60 digits, above the 57 of a 188-bit number
/** The four ASCII digits of every limb value. */
const DIGITS = (() => {
  const t = new Uint8Array(LIMB * 4);
  for (let i = 0; i < LIMB; i++) {
    const s = String(i).padStart(4, '0');
    for (let k = 0; k < 4; k++) t[i * 4 + k] = s.charCodeAt(k);
  }
  return t;
})();
/** The same four digits as one little-endian 32-bit word, to write with one store. */
const DIGIT_WORDS = (() => {
  const t = new Uint32Array(LIMB);
  for (let i = 0; i < LIMB; i++) t[i] = (DIGITS[i * 4]! | (DIGITS[i * 4 + 1]! << 8) | (DIGITS[i * 4 + 2]! << 16) | (DIGITS[i * 4 + 3]! << 24)) >>> 0;
  return t;
})();

function limbsOf(v: bigint): Int32Array {
  const out = new Int32Array(LIMBS);
  for (let i = 0; i < LIMBS && v > 0n; i++) {
    out[i] = Number(v % BigInt(LIMB));
    v /= BigInt(LIMB);
  }
  return out;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_U32 = 0xffff_ffff;
/** A first position at or under this plus any u32 offset is still a safe integer. */
const SAFE_FIRST = MAX_SAFE - BigInt(MAX_U32);
/** 2^80, the weight of the position field: 25 digits, 7 limbs. */
const POSITION_WEIGHT = limbsOf(1n << 80n);

/**
 * encodeSequenceNumber for one shard, about three times faster: every field but the position is
 * fixed for a shard and an arrival second, so the number is base + position * 2^80, computed on
 * decimal limbs without BigInt and printed through a digit table. GetRecords, SubscribeToShard
 * and PutRecords print one per record.
 */
export class SequenceEncoder {
  readonly #createdSec: number;
  readonly #shardIndex: number;
  #arrivalSec = -1;
  #base: Int32Array = new Int32Array(LIMBS);
  readonly #r = new Int32Array(LIMBS);
  readonly #text = Buffer.alloc(LIMBS * 4);
  readonly #textView = new DataView(this.#text.buffer, this.#text.byteOffset, this.#text.byteLength);

  constructor(shardCreatedSec: number, shardIndex: number) {
    this.#createdSec = shardCreatedSec;
    this.#shardIndex = shardIndex;
  }

  encode(position: bigint, arrivalSec: number): SequenceNumber {
    if (position < 0n || position > MAX_SAFE) {
      return encodeSequenceNumber({ shardCreatedSec: this.#createdSec, shardIndex: this.#shardIndex, position, arrivalSec });
    }
    return this.#encode(Number(position), arrivalSec);
  }

  /** encode(first + offset), without a BigInt per record: offset is a small non-negative integer. */
  encodeAt(first: bigint, offset: number, arrivalSec: number): SequenceNumber {
    if (first < 0n || first > SAFE_FIRST || !(offset >= 0 && offset <= MAX_U32)) return this.encode(first + BigInt(offset), arrivalSec);
    return this.#encode(Number(first) + offset, arrivalSec);
  }

  /**
   * Writes the digits of encodeAt(first, offset, arrivalSec) at `at` of the bytes a DataView sees
   * (room for 60 bytes needed); returns where they end.
   */
  writeAt(first: bigint, offset: number, arrivalSec: number, buf: DataView, at: number): number {
    if (first < 0n || first > SAFE_FIRST || !(offset >= 0 && offset <= MAX_U32)) {
      const s = this.encode(first + BigInt(offset), arrivalSec);
      for (let i = 0; i < s.length; i++) buf.setUint8(at++, s.charCodeAt(i));
      return at;
    }
    return this.#digits(this.#limbs(Number(first) + offset, arrivalSec), buf, at);
  }

  /**
   * Writes the numbers of positions first, first + 1, first + 2, ... (one per call of the
   * returned function, into buf at `at`, returning the end): each from the one before by adding
   * 2^80 on the limbs, cheaper than encoding each anew. PutRecords answers print a run per shard.
   */
  run(first: bigint, arrivalSec: number): (buf: DataView, at: number) => number {
    let offset = 0;
    if (first < 0n || first > SAFE_FIRST) return (buf, at) => this.writeAt(first, offset++, arrivalSec, buf, at);
    const r = this.#limbs(Number(first), arrivalSec).slice();
    const w = POSITION_WEIGHT;
    return (buf, at) => {
      if (offset++ > 0) {
        if (offset > MAX_U32) return this.writeAt(first, offset - 1, arrivalSec, buf, at);
        let carry = 0;
        for (let i = 0; i < LIMBS; i++) {
          const x = r[i]! + (i < 7 ? w[i]! : 0) + carry;
          carry = x >= LIMB ? 1 : 0;
          r[i] = x - carry * LIMB;
          if (i >= 7 && carry === 0) break;
        }
      }
      return this.#digits(r, buf, at);
    };
  }

  /** position: a safe integer. */
  #encode(position: number, arrivalSec: number): SequenceNumber {
    const end = this.#digits(this.#limbs(position, arrivalSec), this.#textView, 0);
    return this.#text.toString('latin1', 0, end) as SequenceNumber;
  }

  /** The number's limbs, normalised, in a reused array. position: a safe integer. */
  #limbs(position: number, arrivalSec: number): Int32Array {
    if (arrivalSec !== this.#arrivalSec) {
      const zero = encodeSequenceNumber({ shardCreatedSec: this.#createdSec, shardIndex: this.#shardIndex, position: 0n, arrivalSec });
      this.#base = limbsOf(BigInt(zero));
      this.#arrivalSec = arrivalSec;
    }
    // position < 2^53: four limbs. Every sum below stays under 2^31.
    let p = position;
    const p0 = p % LIMB;
    p = (p - p0) / LIMB;
    const p1 = p % LIMB;
    p = (p - p1) / LIMB;
    const p2 = p % LIMB;
    const p3 = (p - p2) / LIMB;
    const b = this.#base;
    const w = POSITION_WEIGHT;
    const r = this.#r;
    r.set(b);
    for (let j = 0; j < 7; j++) {
      const x = w[j]!;
      r[j] = r[j]! + p0 * x;
      r[j + 1] = r[j + 1]! + p1 * x;
      r[j + 2] = r[j + 2]! + p2 * x;
      r[j + 3] = r[j + 3]! + p3 * x;
    }
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) {
      const x = (r[i]! + carry) | 0;
      carry = (x / LIMB) | 0;
      r[i] = x - carry * LIMB;
    }
    return r;
  }

  /** Prints normalised limbs as decimal digits, without leading zeros, at `at` of t; returns the end. */
  #digits(r: Int32Array, t: DataView, at: number): number {
    let top = LIMBS - 1;
    while (top > 0 && r[top] === 0) top--;
    // The top limb without its leading zeros (a zero number prints as "0").
    const k0 = r[top]! * 4;
    const skip = r[top]! >= 1000 ? 0 : r[top]! >= 100 ? 1 : r[top]! >= 10 ? 2 : 3;
    for (let d = skip; d < 4; d++) t.setUint8(at++, DIGITS[k0 + d]!);
    for (let i = top - 1; i >= 0; i--) {
      t.setUint32(at, DIGIT_WORDS[r[i]!]!, true);
      at += 4;
    }
    return at;
  }
}

/** Decodes a sequence number of our layout; undefined for any other decimal string. */
export function decodeSequenceNumber(s: string): SequenceParts | undefined {
  if (!/^[1-9]\d{0,128}$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v >> 184n !== 2n || (v & 0xfn) !== 2n || ((v >> 72n) & 0xffn) !== 0n) return undefined;
  const shardIndex = Number((v >> 4n) & M32);
  if (BigInt(shardIndex & 0xf) !== ((v >> 144n) & 0xfn)) return undefined;
  return {
    shardCreatedSec: Number((v >> 148n) & M36),
    shardIndex,
    position: (v >> 80n) & M64,
    arrivalSec: Number((v >> 36n) & M36),
  };
}

/** The lowest sequence number a shard can hold: its StartingSequenceNumber. */
export function shardStartingSequenceNumber(shardCreatedSec: number, shardIndex: number): SequenceNumber {
  return encodeSequenceNumber({ shardCreatedSec, shardIndex, position: 0n, arrivalSec: shardCreatedSec });
}

/** AWS allows numbers up to 129 digits; compare as integers. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
