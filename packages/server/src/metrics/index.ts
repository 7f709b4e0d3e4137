import { RecordBatch } from '../core/record-batch.js';
import { WriteOutcome } from '../streams/write.js';
import { EventStreamOutput, type Invocation, type Request, type Response, type ServiceBinding } from '../wire/dispatch.js';
import { PROMETHEUS_CONTENT_TYPE, promName, type Registry } from './registry.js';

export { Counter, Gauge, Histogram, LATENCY_BUCKETS, PROMETHEUS_CONTENT_TYPE, promName, Registry, type Labels } from './registry.js';

/** `GET /metrics`: the registry in the Prometheus text format. */
export function metricsRoute(registry: Registry): (req: Request, res: Response) => void {
  return (_req, res) => {
    let body: string;
    try {
      body = registry.render();
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`);
      return;
    }
    const payload = Buffer.from(body);
    res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': String(payload.length) });
    res.end(payload);
  };
}

/**
 * Wraps a ServiceBinding to count every request by operation and outcome and time it, and, for
 * Data Streams, to count what PutRecord/PutRecords accepted per stream (`AWS/Kinesis`
 * IncomingRecords and IncomingBytes, checklist 1.9): the hook sees the decoded input and the
 * operation's answer, so nothing in src/streams needs to know about metrics.
 */
export function instrumentBinding(binding: ServiceBinding, registry: Registry): ServiceBinding {
  const requests = registry.counter('eddy_requests_total', 'API requests by service, operation and outcome', ['service', 'operation', 'outcome']);
  const latency = registry.histogram('eddy_request_duration_seconds', 'API request latency by service and operation', ['service', 'operation']);
  const kinesis = binding.model.targetPrefix.startsWith('Kinesis_');
  const incomingRecords = registry.counter(promName('AWS/Kinesis', 'IncomingRecords'), 'AWS/Kinesis IncomingRecords: records accepted by PutRecord and PutRecords', ['StreamName']);
  const incomingBytes = registry.counter(promName('AWS/Kinesis', 'IncomingBytes'), 'AWS/Kinesis IncomingBytes: data bytes accepted by PutRecord and PutRecords', ['StreamName']);
  const service = binding.model.serviceId;
  return {
    model: binding.model,
    serves: binding.serves,
    invoke: async (inv: Invocation) => {
      const started = performance.now();
      let outcome = 'error';
      try {
        const out = await binding.invoke(inv);
        outcome = 'ok';
        if (kinesis && out !== undefined && !(out instanceof EventStreamOutput)) countKinesisWrites(inv, out);
        return out;
      } catch (e) {
        outcome = e instanceof Error && 'type' in e && typeof e.type === 'string' ? e.type : 'error';
        throw e;
      } finally {
        requests.inc({ service, operation: inv.operation, outcome });
        latency.observe({ service, operation: inv.operation }, (performance.now() - started) / 1000);
      }
    },
  };

  function countKinesisWrites(inv: Invocation, out: Record<string, unknown>): void {
    if (inv.operation !== 'PutRecord' && inv.operation !== 'PutRecords') return;
    const name = streamNameOf(inv.input);
    if (name === undefined) return;
    if (inv.operation === 'PutRecord') {
      const data = inv.input.Data;
      incomingRecords.inc({ StreamName: name });
      incomingBytes.inc({ StreamName: name }, data instanceof Uint8Array ? data.byteLength : 0);
      return;
    }
    // The records come as columns (the fast path) or objects, the results as an outcome (JSON) or objects.
    const input = inv.input.Records;
    const results = out.Records;
    if (!(input instanceof RecordBatch || Array.isArray(input)) || !(results instanceof WriteOutcome || Array.isArray(results))) return;
    const n = input instanceof RecordBatch ? input.count : input.length;
    let records = 0;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      if (results instanceof WriteOutcome ? results.isFailed(i) : (results[i] as { ErrorCode?: unknown } | undefined)?.ErrorCode !== undefined) continue;
      records++;
      if (input instanceof RecordBatch) bytes += input.dataBytes(i);
      else {
        const data = (input[i] as { Data?: unknown } | undefined)?.Data;
        if (data instanceof Uint8Array) bytes += data.byteLength;
      }
    }
    if (records > 0) {
      incomingRecords.inc({ StreamName: name }, records);
      incomingBytes.inc({ StreamName: name }, bytes);
    }
  }
}

function streamNameOf(input: Record<string, unknown>): string | undefined {
  if (typeof input.StreamName === 'string') return input.StreamName;
  if (typeof input.StreamARN === 'string') return /:stream\/([^/]+)$/.exec(input.StreamARN)?.[1];
  return undefined;
}
