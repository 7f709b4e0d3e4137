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
