import type { _Record } from '@aws-sdk/client-kinesis';
import { deaggregate } from '../aggregation/index.js';
import { compareExtended, type ExtendedSequenceNumber } from './lease.js';
import type { ConsumerRecord } from './types.js';

/**
 * Kinesis records to user records: KPL aggregates are split into their sub-records, dropping
 * those whose hash key is outside the shard's range (checklist 2.3); records at or before `after`
 * (the checkpoint, when reading resumed AT its sequence number) are left out.
 */
export function userRecords(records: readonly _Record[], range: { start: bigint; end: bigint } | undefined, after: ExtendedSequenceNumber | undefined): ConsumerRecord[] {
  const out: ConsumerRecord[] = [];
  const epoch = new Date(0);
  for (const r of records) {
    const sequenceNumber = r.SequenceNumber ?? '';
    const arrival = r.ApproximateArrivalTimestamp ?? epoch;
    for (const u of deaggregate({ data: r.Data ?? new Uint8Array(0), partitionKey: r.PartitionKey ?? '' }, range)) {
      if (after !== undefined && compareExtended({ sequenceNumber, subSequenceNumber: u.subSequenceNumber }, after) <= 0) continue;
      const rec: { -readonly [K in keyof ConsumerRecord]: ConsumerRecord[K] } = {
        sequenceNumber,
        subSequenceNumber: u.subSequenceNumber,
        partitionKey: u.partitionKey,
        data: u.data,
        approximateArrivalTimestamp: arrival,
        aggregated: u.aggregated,
      };
      if (u.explicitHashKey !== undefined) rec.explicitHashKey = u.explicitHashKey;
      if (r.EncryptionType !== undefined && r.EncryptionType !== null) rec.encryptionType = r.EncryptionType;
      out.push(rec);
    }
  }
  return out;
}
