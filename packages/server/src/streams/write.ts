import { errors } from '../core/errors.js';
import { parseHashKey } from '../core/hash-key.js';
import { md5Words } from '../core/md5.js';
import { shardIdOf } from '../core/ids.js';
import type { StreamsService, StreamState } from './service.js';
import { StreamStatus } from './types.js';
import type { ShardMeta } from './types.js';

export interface WriteRequest {
  readonly Data: Uint8Array;
  readonly PartitionKey: string;
  readonly ExplicitHashKey?: string | undefined;
}

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
export async function writeRecords(svc: StreamsService, st: StreamState, records: readonly WriteRequest[], dataPath: (i: number) => string): Promise<WriteResult[]> {
  // The data key first: from the routing below to the append nothing may wait, or a reshard in
  // between could leave records routed to a shard that has just closed.
  if (st.meta.encryptionType === 'KMS' && st.meta.keyId !== undefined) {
    const keyRef = await svc.keys.refFor(st.meta.accountId, st.meta.keyId);
    requireWritable(st);
    return route(svc, st, records, dataPath, keyRef);
  }
  return route(svc, st, records, dataPath, 0);
}

function route(svc: StreamsService, st: StreamState, records: readonly WriteRequest[], dataPath: (i: number) => string, keyRef: number): Promise<WriteResult[]> {
  const m = st.meta;
  const maxRecord = m.maxRecordSizeKiB * 1024;
  const n = records.length;
  const shards = new Array<ShardMeta>(n);
  const sizes = new Array<number>(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const size = r.Data.length + Buffer.byteLength(r.PartitionKey, 'utf8');
    total += size;
    if (r.Data.length > maxRecord) {
      // Coral renders a blob value as the Java ByteBuffer it became (kinesalite's captures).
      const n = r.Data.length;
      throw errors.ValidationException(
        `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${n} cap=${n}]' at '${dataPath(i)}' failed to satisfy constraint: Member must have length less than or equal to ${maxRecord}`,
      );
    }
    let index: number;
    if (r.ExplicitHashKey !== undefined) {
      const h = parseHashKey(r.ExplicitHashKey);
      if (h === undefined) {
        throw errors.InvalidArgumentException(
          `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${r.ExplicitHashKey}`,
        );
      }
      index = st.route(h);
    } else index = st.routeWords(md5Words(r.PartitionKey));
    shards[i] = st.shard(index)!;
    sizes[i] = size;
  }
  if (total > MAX_PUT_RECORDS_BYTES) {
    throw errors.InvalidArgumentException(`Records size exceeds ${MAX_PUT_RECORDS_BYTES / 1048576} MB limit`);
  }
  const now = svc.clock.now();
  const results = new Array<WriteResult>(n);
  const admitted: number[] = [];
  for (let i = 0; i < n; i++) {
    const shard = shards[i]!;
    const size = sizes[i]!;
    const rt = svc.runtime(st, shard.index);
    if (svc.options.throttle) {
      if (!rt.writeRecords.tryTake(1, now)) {
        results[i] = throttled(st, shard);
        continue;
      }
      // A record larger than the 1 MiB bucket holds (up to 10 MiB after UpdateMaxRecordSize) is
      // taken from a full bucket and the rest owed, so later writes wait until it is repaid: AWS
      // "bursts up to 10 MiB with an average of 1 MiB per second" (Developer Guide, large records).
      const b = rt.writeBytes;
      const fits = size <= b.burst ? b.tryTake(size, now) : b.tryTake(b.burst, now) && (b.charge(size - b.burst, now), true);
      if (!fits) {
        rt.writeRecords.refund(1);
        results[i] = throttled(st, shard);
        continue;
      }
    }
    rt.windowBytes += size;
    rt.windowRecords += 1;
    admitted.push(i);
  }
  if (admitted.length === 0) return Promise.resolve(results);
  return svc.append(st, records, shards, admitted, keyRef).then((placed) => {
    for (let k = 0; k < admitted.length; k++) {
      const i = admitted[k]!;
      const shard = shards[i]!;
      const p = placed[k]!;
      results[i] = { SequenceNumber: svc.sequenceNumber(shard, p.position, p.arrivalMs), ShardId: shardIdOf(shard.index) };
    }
    return results;
  });
}

function throttled(st: StreamState, shard: ShardMeta): WriteResult {
  return {
    ErrorCode: 'ProvisionedThroughputExceededException',
    ErrorMessage: `Rate exceeded for shard ${shardIdOf(shard.index)} in stream ${st.meta.name} under account ${st.meta.accountId}.`,
  };
}
