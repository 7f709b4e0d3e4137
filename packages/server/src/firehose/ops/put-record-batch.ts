import { firehoseErrors } from '../errors.js';
import { MiB } from '../types.js';
import type { FirehoseContext } from './context.js';

interface Input {
  DeliveryStreamName: string;
  Records: { Data: Uint8Array }[];
}

/** PutRecordBatch carries at most 500 records (the model) and 4 MiB (checklist 4.3). */
export const MAX_BATCH_BYTES = 4 * MiB;

export async function putRecordBatch(input: Input, ctx: FirehoseContext) {
  const started = performance.now();
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  let bytes = 0;
  for (const r of input.Records) bytes += r.Data.byteLength;
  if (bytes > MAX_BATCH_BYTES) {
    throw firehoseErrors.InvalidArgumentException(`Records size exceeds the limit of ${MAX_BATCH_BYTES} bytes: ${bytes} bytes given.`);
  }
  const results = await svc.put(
    st,
    input.Records.map((r) => r.Data),
  );
  let failed = 0;
  let okBytes = 0;
  results.forEach((r, i) => {
    if ('ErrorCode' in r) failed++;
    else okBytes += input.Records[i]!.Data.byteLength;
  });
  svc.metrics.incoming(st.meta.name, results.length - failed, okBytes, 'PutRecordBatch');
  svc.metrics.latency(st.meta.name, 'PutRecordBatch', (performance.now() - started) / 1000);
  return { FailedPutCount: failed, Encrypted: st.meta.encryption?.Status === 'ENABLED', RequestResponses: results };
}
