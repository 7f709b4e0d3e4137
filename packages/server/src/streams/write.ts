import { errors } from '../core/errors.js';
import { parseHashKey } from '../core/hash-key.js';
import { md5WordsOfBytes } from '../core/md5.js';
import { shardIdOf } from '../core/ids.js';
import type { Placement, StreamsService, StreamState } from './service.js';
import { StreamStatus } from './types.js';
import type { ShardMeta } from './types.js';
import type { RecordBatch } from '../core/record-batch.js';

/** One record's outcome, in the shape of a PutRecords result entry. */
export type WriteResult =
  | { readonly SequenceNumber: string; readonly ShardId: string }
  | { readonly ErrorCode: 'ProvisionedThroughputExceededException' | 'InternalFailure'; readonly ErrorMessage: string };

/** PutRecords accepts at most 10 MiB of data and partition keys per call (checklist 1.6). */
export const MAX_PUT_RECORDS_BYTES = 10 * 1024 * 1024;

/** Streams accept writes while ACTIVE or UPDATING (checklist 1.7 PutRecord). */
export function requireWritable(st: StreamState): void {
  const s = st.meta.status;
  if (s !== StreamStatus.ACTIVE && s !== StreamStatus.UPDATING) {
    throw errors.ResourceNotFoundException(`Stream ${st.meta.name} under account ${st.meta.accountId} not found.`);
  }
}

/**
 * Routes, size-checks, rate-limits and appends records. Request-level faults (sizes, hash keys)
 * throw before anything is written; per-record throttling comes back in the results, as
 * PutRecords reports it.
 */
export async function writeRecords(svc: StreamsService, st: StreamState, records: RecordBatch, dataPath: (i: number) => string): Promise<WriteOutcome> {
  // The data key first: from the routing below to the append nothing may wait, or a reshard in
  // between could leave records routed to a shard that has just closed.
  if (st.meta.encryptionType === 'KMS' && st.meta.keyId !== undefined) {
    const keyRef = await svc.keys.refFor(st.meta.accountId, st.meta.keyId);
    requireWritable(st);
    return route(svc, st, records, dataPath, keyRef);
  }
  return route(svc, st, records, dataPath, 0);
}

function route(svc: StreamsService, st: StreamState, records: RecordBatch, dataPath: (i: number) => string, keyRef: number): Promise<WriteOutcome> {
  const m = st.meta;
  const maxRecord = m.maxRecordSizeKiB * 1024;
  const n = records.count;
  const { keys, bounds, hashKeys } = records;
  const shards = new Array<ShardMeta>(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const dataBytes = bounds[4 * i + 1]! - bounds[4 * i]!;
    const size = dataBytes + bounds[4 * i + 3]! - bounds[4 * i + 2]!;
    total += size;
    if (dataBytes > maxRecord) {
      // Coral renders a blob value as the Java ByteBuffer it became (kinesalite's captures).
      const n = dataBytes;
      throw errors.ValidationException(
        `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${n} cap=${n}]' at '${dataPath(i)}' failed to satisfy constraint: Member must have length less than or equal to ${maxRecord}`,
      );
    }
    let index: number;
    const hashKey = hashKeys?.[i];
    if (hashKey !== undefined) {
      const h = parseHashKey(hashKey);
      if (h === undefined) {
        throw errors.InvalidArgumentException(
          `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${hashKey}`,
        );
      }
      index = st.route(h);
    } else index = st.routeWords(md5WordsOfBytes(keys, bounds[4 * i + 2]!, bounds[4 * i + 3]!));
    shards[i] = st.shard(index)!;
  }
  if (total > MAX_PUT_RECORDS_BYTES) {
    throw errors.InvalidArgumentException(`Records size exceeds ${MAX_PUT_RECORDS_BYTES / 1048576} MB limit`);
  }
  const now = svc.clock.now();
  // Each record's index among the admitted ones, or -1 when throttled.
  const slot = new Int32Array(n);
  const admitted = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const shard = shards[i]!;
    const size = bounds[4 * i + 1]! - bounds[4 * i]! + bounds[4 * i + 3]! - bounds[4 * i + 2]!;
    const rt = svc.runtime(st, shard.index);
    slot[i] = -1;
    if (svc.options.throttle) {
      if (!rt.writeRecords.tryTake(1, now)) continue;
      // A record larger than the 1 MiB bucket holds (up to 10 MiB after UpdateMaxRecordSize) is
      // taken from a full bucket and the rest owed, so later writes wait until it is repaid: AWS
      // "bursts up to 10 MiB with an average of 1 MiB per second" (Developer Guide, large records).
      const b = rt.writeBytes;
      const fits = size <= b.burst ? b.tryTake(size, now) : b.tryTake(b.burst, now) && (b.charge(size - b.burst, now), true);
      if (!fits) {
        rt.writeRecords.refund(1);
        continue;
      }
    }
    rt.windowBytes += size;
    rt.windowRecords += 1;
    slot[i] = count;
    admitted[count++] = i;
  }
  if (count === 0) return Promise.resolve(new WriteOutcome(svc, st, shards, slot, undefined));
  return svc.append(st, records, shards, admitted.subarray(0, count), keyRef).then((placement) => new WriteOutcome(svc, st, shards, slot, placement));
}

/**
 * What a write did with each record: placed (shard, sequence number) or throttled. Kept in columns;
 * `entry` makes the result object of one record, `json` writes the whole PutRecords answer (the
 * hot path: no string or object per record).
 */
export class WriteOutcome {
  readonly count: number;
  readonly failed: number;

  constructor(
    private readonly svc: StreamsService,
    private readonly st: StreamState,
    /** Each record's shard. */
    private readonly shards: readonly ShardMeta[],
    /** Each record's index among the admitted, or -1 when it was throttled. */
    private readonly slot: Int32Array,
    private readonly placement: Placement | undefined,
  ) {
    this.count = slot.length;
    let failed = 0;
    for (let i = 0; i < slot.length; i++) if (slot[i]! < 0) failed++;
    this.failed = failed;
  }

  isFailed(i: number): boolean {
    return this.slot[i]! < 0;
  }

  entry(i: number): WriteResult {
    const shard = this.shards[i]!;
    const k = this.slot[i]!;
    if (k < 0) return throttled(this.st, shard);
    const { parts, part, rank } = this.placement!;
    const p = parts[part[k]!]!;
    return { SequenceNumber: this.svc.sequenceNumberAt(shard, p.first, rank[k]!, p.arrivalMs), ShardId: shardIdOf(shard.index) };
  }

  entries(): WriteResult[] {
    return Array.from({ length: this.count }, (_, i) => this.entry(i));
  }

  /** The PutRecords answer in JSON, byte for byte as the model's encoder writes it. */
  json(encryptionType: string | undefined): Buffer {
    const head = `{"FailedRecordCount":${this.failed},"Records":[`;
    const tail = encryptionType === undefined ? ']}' : `],"EncryptionType":${JSON.stringify(encryptionType)}}`;
    // Failed entries (rare) as strings first; placed ones are written straight into the buffer.
    let failedText: string[] | undefined;
    let room = head.length + tail.length;
    for (let i = 0; i < this.count; i++) {
      if (this.slot[i]! >= 0) room += PLACED_ENTRY_ROOM;
      else {
        const e = this.entry(i) as { ErrorCode: string; ErrorMessage: string };
        const text = `{"ErrorCode":${JSON.stringify(e.ErrorCode)},"ErrorMessage":${JSON.stringify(e.ErrorMessage)}}`;
        (failedText ??= [])[i] = text;
        room += Buffer.byteLength(text, 'utf8') + 1;
      }
    }
    const out = Buffer.allocUnsafe(room);
    let at = out.write(head, 0, 'latin1');
    const placement = this.placement;
    // Each part's records come in rank order (append ranks them in request order, the order
    // walked here): one run of sequence numbers per part, each number from the one before.
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const runs: ((buf: DataView, at: number) => number)[] = [];
    const shardIds: Words[] = [];
    for (let i = 0; i < this.count; i++) {
      if (i > 0) out[at++] = COMMA;
      const k = this.slot[i]!;
      if (k < 0) {
        at += out.write(failedText![i]!, at, 'utf8');
        continue;
      }
      const p = placement!.part[k]!;
      let run = runs[p];
      if (run === undefined) {
        const part = placement!.parts[p]!;
        const shard = this.shards[i]!;
        run = runs[p] = this.svc.sequenceRun(shard, part.first, part.arrivalMs);
        shardIds[p] = words(`${SHARD_ID_KEY}${shardIdOf(shard.index)}"}`);
      }
      at = putWords(SEQUENCE_NUMBER_KEY, view, at);
      at = run(view, at);
      at = putWords(shardIds[p]!, view, at);
    }
    at += out.write(tail, at, 'utf8');
    return out.subarray(0, at);
  }
}

const COMMA = 0x2c;
/** A short ASCII string as little-endian 32-bit words and the bytes after the last whole word. */
interface Words {
  readonly words: Uint32Array;
  readonly tail: Uint8Array;
  readonly length: number;
}

function words(s: string): Words {
  const b = Buffer.from(s, 'latin1');
  const n = b.length >> 2;
  return { words: Uint32Array.from({ length: n }, (_, i) => b.readUInt32LE(4 * i)), tail: b.subarray(4 * n), length: b.length };
}

/** Writes a few bytes a word at a time (cheaper than a Buffer#copy call for them); returns the end. */
function putWords(w: Words, view: DataView, at: number): number {
  const { words, tail } = w;
  for (let i = 0; i < words.length; i++, at += 4) view.setUint32(at, words[i]!, true);
  for (let i = 0; i < tail.length; i++) view.setUint8(at++, tail[i]!);
  return at;
}

const SEQUENCE_NUMBER_KEY = words('{"SequenceNumber":"');
const SHARD_ID_KEY = '","ShardId":"';
/** Upper bound of a placed entry and its comma: a sequence number has at most 57 digits, a shard id at most 21 characters. */
const PLACED_ENTRY_ROOM = SEQUENCE_NUMBER_KEY.length + 60 + SHARD_ID_KEY.length + 24 + 2 + 1;

function throttled(st: StreamState, shard: ShardMeta): WriteResult {
  return {
    ErrorCode: 'ProvisionedThroughputExceededException',
    ErrorMessage: `Rate exceeded for shard ${shardIdOf(shard.index)} in stream ${st.meta.name} under account ${st.meta.accountId}.`,
  };
}
