import type { OpContext } from '../context.js';
import { requireWritable, writeRecords } from '../write.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  Records: { Data: Uint8Array; PartitionKey: string; ExplicitHashKey?: string }[];
}

export async function putRecords(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  requireWritable(st);
  const results = await writeRecords(svc, st, input.Records, (i) => `records.${i + 1}.member.data`);
  let failed = 0;
  for (const r of results) if ('ErrorCode' in r) failed++;
  return { FailedRecordCount: failed, Records: results, EncryptionType: st.meta.encryptionType };
}
