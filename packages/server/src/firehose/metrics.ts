/**
 * Firehose's CloudWatch metrics (namespace AWS/Firehose, dimension DeliveryStreamName: checklist
 * 4.9), kept in the server's registry and served with its other metrics at GET /metrics.
 *
 * Sums (Records, Bytes, ObjectCount, IncomingRecords, ...) are Prometheus counters. `*.Success`,
 * which CloudWatch reports as successful deliveries over attempts, is a gauge holding the outcome
 * of the latest attempt (1 or 0) next to a counter of attempts by outcome; `*.DataFreshness`, the
 * age in seconds of the oldest record not yet delivered, is computed at every scrape.
 */
import { promName, type Counter, type Gauge, type Histogram, type Registry } from '../metrics/index.js';

/** Delivery metric families, by CloudWatch prefix. */
export type DeliveryMetric =
  | 'DeliveryToS3'
  | 'BackupToS3'
  | 'DeliveryToHttpEndpoint'
  | 'DeliveryToSplunk'
  | 'DeliveryToAmazonOpenSearchService'
  | 'DeliveryToElasticsearch'
  | 'DeliveryToAmazonOpenSearchServerless'
  | 'DeliveryToRedshift';

const NS = 'AWS/Firehose';
const L = ['DeliveryStreamName'] as const;

export class FirehoseMetrics {
  readonly #r: Registry;
  readonly #counters = new Map<string, Counter>();
  readonly #gauges = new Map<string, Gauge>();
  readonly #histograms = new Map<string, Histogram>();
  readonly #freshness = new Map<string, () => readonly { metric: DeliveryMetric; seconds: number }[]>();
  readonly #attempts: Counter;

  constructor(registry: Registry) {
    this.#r = registry;
    this.#attempts = registry.counter('eddy_firehose_delivery_attempts_total', 'Firehose delivery attempts by destination metric family and outcome', [
      'DeliveryStreamName',
      'family',
      'outcome',
    ]);
    // Registered up front so that a scrape shows them before the first record.
    for (const n of ['IncomingRecords', 'IncomingBytes', 'IncomingPutRequests']) this.#counter(n);
  }

  #counter(name: string): Counter {
    let c = this.#counters.get(name);
    if (c === undefined) {
      c = this.#r.counter(promName(NS, name), `${NS} ${name}`, L);
      this.#counters.set(name, c);
    }
    return c;
  }

  #gauge(name: string): Gauge {
    let g = this.#gauges.get(name);
    if (g === undefined) {
      g = this.#r.gauge(promName(NS, name), `${NS} ${name}`, L);
      if (name.endsWith('.DataFreshness')) g.onCollect(() => this.#collectFreshness());
      this.#gauges.set(name, g);
    }
    return g;
  }

  #histogram(name: string): Histogram {
    let h = this.#histograms.get(name);
    if (h === undefined) {
      h = this.#r.histogram(promName(NS, name), `${NS} ${name} (seconds)`, L);
      this.#histograms.set(name, h);
    }
    return h;
  }

  /** Records accepted by PutRecord/PutRecordBatch or read from a Kinesis stream. */
  incoming(stream: string, records: number, bytes: number, operation?: 'PutRecord' | 'PutRecordBatch'): void {
    const l = { DeliveryStreamName: stream };
    this.#counter('IncomingRecords').inc(l, records);
    this.#counter('IncomingBytes').inc(l, bytes);
    if (operation !== undefined) {
      this.#counter('IncomingPutRequests').inc(l);
      this.#counter(`${operation}.Requests`).inc(l);
      this.#counter(`${operation}.Bytes`).inc(l, bytes);
      if (operation === 'PutRecordBatch') this.#counter('PutRecordBatch.Records').inc(l, records);
    }
  }

  latency(stream: string, operation: string, seconds: number): void {
    this.#histogram(`${operation}.Latency`).observe({ DeliveryStreamName: stream }, seconds);
  }

  throttled(stream: string, records: number): void {
    this.#counter('ThrottledRecords').inc({ DeliveryStreamName: stream }, records);
  }

  kinesisRead(stream: string, records: number, bytes: number, millisBehindLatest: number): void {
    const l = { DeliveryStreamName: stream };
    this.#counter('DataReadFromKinesisStream.Records').inc(l, records);
    this.#counter('DataReadFromKinesisStream.Bytes').inc(l, bytes);
    this.#gauge('KinesisMillisBehindLatest').set(l, millisBehindLatest);
  }

  /** One delivery attempt of a family; on success, what it carried. */
  delivery(stream: string, family: DeliveryMetric, ok: boolean, records = 0, bytes = 0, objects = 0): void {
    const l = { DeliveryStreamName: stream };
    this.#attempts.inc({ DeliveryStreamName: stream, family, outcome: ok ? 'success' : 'failure' });
    this.#gauge(`${family}.Success`).set(l, ok ? 1 : 0);
    // Touch the freshness gauge so that it is rendered (its values come from the collector).
    this.#gauge(`${family}.DataFreshness`);
    if (!ok) return;
    this.#counter(`${family}.Records`).inc(l, records);
    this.#counter(`${family}.Bytes`).inc(l, bytes);
    if (family === 'DeliveryToS3' || family === 'BackupToS3') this.#counter(`${family}.ObjectCount`).inc(l, objects);
  }

  /** Lambda invocations (ExecuteProcessing.*) and jq evaluations (JQProcessing.Duration). */
  processing(stream: string, what: 'lambda' | 'jq', seconds: number, ok: boolean): void {
    const l = { DeliveryStreamName: stream };
    if (what === 'jq') {
      this.#histogram('JQProcessing.Duration').observe(l, seconds);
      return;
    }
    this.#histogram('ExecuteProcessing.Duration').observe(l, seconds);
    this.#gauge('ExecuteProcessing.Success').set(l, ok ? 1 : 0);
  }

  succeedProcessing(stream: string, records: number, bytes: number): void {
    const l = { DeliveryStreamName: stream };
    this.#counter('SucceedProcessing.Records').inc(l, records);
    this.#counter('SucceedProcessing.Bytes').inc(l, bytes);
  }

  conversion(stream: string, ok: boolean, records: number, bytes: number): void {
    const l = { DeliveryStreamName: stream };
    const p = ok ? 'SucceedConversion' : 'FailedConversion';
    this.#counter(`${p}.Records`).inc(l, records);
    this.#counter(`${p}.Bytes`).inc(l, bytes);
  }

  partitions(stream: string, count: number, exceeded: boolean): void {
    const l = { DeliveryStreamName: stream };
    this.#gauge('PartitionCount').set(l, count);
    this.#gauge('PartitionCountExceeded').set(l, exceeded ? 1 : 0);
  }

  /** Registers where a stream's freshness comes from; computed at each scrape. */
  watchFreshness(stream: string, families: readonly DeliveryMetric[], f: () => readonly { metric: DeliveryMetric; seconds: number }[]): void {
    this.#freshness.set(stream, f);
    for (const family of families) this.#gauge(`${family}.DataFreshness`).set({ DeliveryStreamName: stream }, 0);
  }

  #collectFreshness(): void {
    for (const [stream, f] of this.#freshness) {
      for (const { metric, seconds } of f()) this.#gauge(`${metric}.DataFreshness`).set({ DeliveryStreamName: stream }, seconds);
    }
  }

  /** Forgets a deleted delivery stream. */
  forget(stream: string): void {
    this.#freshness.delete(stream);
    this.#r.removeWhere('DeliveryStreamName', stream);
  }
}
