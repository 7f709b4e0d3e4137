/**
 * A small metrics registry: counters, gauges and histograms with labels, rendered in the
 * Prometheus text exposition format (version 0.0.4) for `GET /metrics`.
 *
 * Metric names keep the CloudWatch names AWS documents (checklist 4.9: `IncomingRecords`,
 * `DeliveryToS3.Success`, ...) so that dashboards can be matched by eye: the namespace becomes a
 * prefix (`AWS/Firehose` -> `aws_firehose_`) and dots become underscores
 * (`aws_firehose_DeliveryToS3_Success`), the dimension becomes a label (`DeliveryStreamName`).
 */

export type Labels = Readonly<Record<string, string>>;

/** Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Turns a CloudWatch metric name into a Prometheus one: `DeliveryToS3.Success` -> `DeliveryToS3_Success`. */
export function promName(namespace: string, cloudWatchName: string): string {
  const ns = namespace.replace(/[^a-zA-Z0-9]+/g, '_').toLowerCase();
  return `${ns}_${cloudWatchName.replace(/[^a-zA-Z0-9_:]/g, '_')}`;
}

function labelKey(names: readonly string[], labels: Labels): string {
  // Values joined with a separator that cannot appear unescaped in the rendered output.
  return names.map((n) => labels[n] ?? '').join('\u0000');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

interface Series<V> {
  readonly values: string[];
  v: V;
}

abstract class Metric<V> {
  readonly #series = new Map<string, Series<V>>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new TypeError(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL.test(l) || l.startsWith('__')) throw new TypeError(`invalid label name ${l} on ${name}`);
  }

  protected abstract initial(): V;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  protected series(labels: Labels): Series<V> {
    const k = labelKey(this.labelNames, labels);
    let s = this.#series.get(k);
    if (s === undefined) {
      s = { values: this.labelNames.map((n) => labels[n] ?? ''), v: this.initial() };
      this.#series.set(k, s);
    }
    return s;
  }

  /** Forgets one label set (a deleted delivery stream, for one). */
  remove(labels: Labels): void {
    this.#series.delete(labelKey(this.labelNames, labels));
  }

  /** Forgets every label set whose `label` has this value. */
  removeWhere(label: string, value: string): void {
    const i = this.labelNames.indexOf(label);
    if (i < 0) return;
    for (const [k, s] of this.#series) if (s.values[i] === value) this.#series.delete(k);
  }

  protected all(): IterableIterator<Series<V>> {
    return this.#series.values();
  }

  abstract render(out: string[]): void;
}

export class Counter extends Metric<number> {
  readonly type = 'counter';
  protected initial(): number {
    return 0;
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`counter ${this.name} can only go up`);
    this.series(labels).v += by;
  }
  get(labels: Labels = {}): number {
    return this.series(labels).v;
  }
  render(out: string[]): void {
    for (const s of this.all()) out.push(`${this.name}${renderLabels(this.labelNames, s.values)} ${formatNumber(s.v)}`);
  }
}

export class Gauge extends Metric<number> {
  readonly type = 'gauge';
  /** Called at every scrape, before rendering, to refresh computed values. */
  #collect: (() => void) | undefined;
  protected initial(): number {
    return 0;
  }
  set(labels: Labels, v: number): void {
    this.series(labels).v = v;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.series(labels).v += by;
  }
  get(labels: Labels = {}): number {
    return this.series(labels).v;
  }
  onCollect(f: () => void): void {
    this.#collect = f;
  }
  render(out: string[]): void {
    this.#collect?.();
    for (const s of this.all()) out.push(`${this.name}${renderLabels(this.labelNames, s.values)} ${formatNumber(s.v)}`);
  }
}

interface HistogramValue {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  readonly type = 'histogram';
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    if (labelNames.includes('le')) throw new TypeError(`histogram ${name} cannot have a label named le`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new TypeError(`histogram ${name}: buckets must increase`);
    }
  }
  protected initial(): HistogramValue {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels, v: number): void {
    const s = this.series(labels).v;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  render(out: string[]): void {
    for (const s of this.all()) {
      this.buckets.forEach((b, i) => {
        out.push(`${this.name}_bucket${renderLabels(this.labelNames, s.values, ['le', formatNumber(b)])} ${s.v.counts[i]}`);
      });
      out.push(`${this.name}_bucket${renderLabels(this.labelNames, s.values, ['le', '+Inf'])} ${s.v.count}`);
      out.push(`${this.name}_sum${renderLabels(this.labelNames, s.values)} ${formatNumber(s.v.sum)}`);
      out.push(`${this.name}_count${renderLabels(this.labelNames, s.values)} ${s.v.count}`);
    }
  }
}

/** Seconds buckets for latencies from 1 ms to about a minute. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The server's metrics. Asking twice for the same name returns the same metric (so that services
 * started twice in one process, as tests do, share it), provided the kind and labels agree.
 */
export class Registry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#get(name, () => new Counter(name, help, labelNames), Counter, labelNames);
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#get(name, () => new Gauge(name, help, labelNames), Gauge, labelNames);
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = LATENCY_BUCKETS): Histogram {
    return this.#get(name, () => new Histogram(name, help, labelNames, buckets), Histogram, labelNames);
  }

  #get<M extends Counter | Gauge | Histogram>(name: string, make: () => M, kind: abstract new (...a: never[]) => M, labelNames: readonly string[]): M {
    const existing = this.#metrics.get(name);
    if (existing !== undefined) {
      if (!(existing instanceof kind) || existing.labelNames.join(',') !== labelNames.join(',')) {
        throw new TypeError(`metric ${name} is already registered with another type or labels`);
      }
      return existing;
    }
    const m = make();
    this.#metrics.set(name, m);
    return m;
  }

  /** Forgets every series of every metric whose `label` has this value. */
  removeWhere(label: string, value: string): void {
    for (const m of this.#metrics.values()) m.removeWhere(label, value);
  }

  /** The Prometheus text exposition of every metric, sorted by name. */
  render(): string {
    const out: string[] = [];
    for (const name of [...this.#metrics.keys()].sort()) {
      const m = this.#metrics.get(name)!;
      const lines: string[] = [];
      m.render(lines);
      out.push(`# HELP ${name} ${escapeHelp(m.help)}`, `# TYPE ${name} ${m.type}`, ...lines);
    }
    return `${out.join('\n')}\n`;
  }
}

/** The content type Prometheus expects for the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
