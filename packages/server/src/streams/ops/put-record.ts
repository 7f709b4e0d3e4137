import { errors } from '../../core/errors.js';
import { decodeSequenceNumber } from '../../core/sequence-number.js';
import type { OpContext } from '../context.js';
import { RecordBatch } from '../../core/record-batch.js';
import { requireWritable, writeRecords } from '../write.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  Data: Uint8Array;
  PartitionKey: string;
  ExplicitHashKey?: string;
  SequenceNumberForOrdering?: string;
}

export async function putRecord(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  requireWritable(st);
  if (input.SequenceNumberForOrdering !== undefined) {
    // Our sequence numbers only grow within a shard, so a valid one already orders the new
    // record after it; what AWS checks is that it is one of this stream's (checklist 1.5).
    const parts = decodeSequenceNumber(input.SequenceNumberForOrdering);
    const shard = parts && st.shard(parts.shardIndex);
    if (!parts || !shard || Math.floor(shard.createdMs / 1000) !== parts.shardCreatedSec) {
      throw errors.InvalidArgumentException(
        `ExclusiveMinimumSequenceNumber ${input.SequenceNumberForOrdering} used in PutRecord on stream ${st.meta.name} under account ${st.meta.accountId} is invalid.`,
      );
    }
  }
  const r = (await writeRecords(svc, st, RecordBatch.of([input]), () => 'data')).entry(0);
  if ('ErrorCode' in r) {
    if (r.ErrorCode === 'ProvisionedThroughputExceededException') throw errors.ProvisionedThroughputExceededException(r.ErrorMessage);
    throw errors.InternalFailureException(r.ErrorMessage);
  }
  return { ShardId: r.ShardId, SequenceNumber: r.SequenceNumber, EncryptionType: st.meta.encryptionType };
}
