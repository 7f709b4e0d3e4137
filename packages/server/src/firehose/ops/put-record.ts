import { firehoseErrors } from '../errors.js';
import type { FirehoseContext } from './context.js';

interface Input {
  DeliveryStreamName: string;
  Record: { Data: Uint8Array };
}

export async function putRecord(input: Input, ctx: FirehoseContext) {
  const started = performance.now();
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  const [r] = await svc.put(st, [input.Record.Data]);
  if (r === undefined || !('RecordId' in r)) throw firehoseErrors.ServiceUnavailableException('Slow down.');
  svc.metrics.incoming(st.meta.name, 1, input.Record.Data.byteLength, 'PutRecord');
  svc.metrics.latency(st.meta.name, 'PutRecord', (performance.now() - started) / 1000);
  return { RecordId: r.RecordId, Encrypted: st.meta.encryption?.Status === 'ENABLED' };
}
