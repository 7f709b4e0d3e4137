import type { OpContext } from '../context.js';
import { RecordBatch, type WriteRequest } from '../../core/record-batch.js';
import { requireWritable, writeRecords } from '../write.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  /** Columns from the fast path (wire/fast-put-records.ts), objects from the generic decoders. */
  Records: RecordBatch | WriteRequest[];
}

export async function putRecords(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  requireWritable(st);
  const records = input.Records instanceof RecordBatch ? input.Records : RecordBatch.of(input.Records);
  const outcome = await writeRecords(svc, st, records, (i) => `records.${i + 1}.member.data`);
  // In JSON the dispatcher's PutRecords encoder writes the outcome itself (wire/fast-put-records.ts).
  return { FailedRecordCount: outcome.failed, Records: ctx.format === 'json' ? outcome : outcome.entries(), EncryptionType: st.meta.encryptionType };
}
