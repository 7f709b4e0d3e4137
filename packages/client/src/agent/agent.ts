// The agent: one Flow per configured flow, a sink per flow, the checkpoint writer and the progress
// reporter. Delivery is at least once: an offset is checkpointed only after every record before it
// was acknowledged, and records acknowledged past one still waiting are checkpointed as byte
// ranges, so after a crash the only lines sent again are acknowledged ones the last checkpoint
// write did not cover (see README.md, "Delivery and checkpoints"). close() (SIGTERM)
// stops reading, sends what was read, waits for the acknowledgements and writes the checkpoint, so
// a clean stop re-sends nothing.
import { channel } from 'node:diagnostics_channel';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { createProducer } from '../producer/index.js';
import { type FileCheckpoint, CheckpointStore } from './checkpoints.js';
import type { AgentConfig, FlowConfig, LogLevel } from './config.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { Flow, type FlowMetrics } from './flow.js';
import { FirehoseSink, type FirehosePort, KinesisSink, type ProducerFactory, type Sink, type SinkEvents, sdkFirehosePort } from './sinks.js';

export interface AgentOptions {
  readonly config: AgentConfig;
  /** A configured client for kinesisStream flows; default: one built from kinesis.endpoint/region and the credentials. */
  readonly kinesisClient?: KinesisClient;
  /** A configured @aws-sdk/client-firehose FirehoseClient for deliveryStream flows; default: one built like the Kinesis client. */
  readonly firehoseClient?: unknown;
  /** Lower level than firehoseClient: PutRecordBatch itself. */
  readonly firehose?: FirehosePort;
  /** Replaces createProducer (tests inject failures here). */
  readonly createProducer?: ProducerFactory;
  /** Where log lines go; default: stderr, filtered by log.level. */
  readonly log?: (level: LogLevel, message: string) => void;
  readonly now?: () => number;
  /** Aborting is close(): the agent stops as on SIGTERM. */
  readonly signal?: AbortSignal;
}

export interface AgentProgress {
  readonly uptimeMs: number;
  readonly total: FlowMetrics;
  readonly flows: Readonly<Record<string, FlowMetrics>>;
}

export interface Agent {
  progress(): AgentProgress;
  /** Writes the acknowledged offsets now. */
  checkpoint(): Promise<void>;
  /**
   * Stops tailing, sends what was read, waits up to shutdownTimeoutMillis for acknowledgements,
   * writes the checkpoint and releases everything. Idempotent.
   */
  close(): Promise<void>;
}

/** Progress events, one per status period: `{ uptimeMs, total, flows }`. */
export const progressChannel = channel('eddy:agent:progress');

const levels: Record<LogLevel, number> = { ERROR: 0, WARN: 1, INFO: 2, DEBUG: 3, TRACE: 4 };

/** Starts an agent: loads the checkpoints, then tails every flow. */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const cfg = options.config;
  const now = options.now ?? Date.now;
  const threshold = levels[cfg.logLevel];
  const sinkLog = options.log ?? ((level: LogLevel, message: string) => process.stderr.write(`${new Date(now()).toISOString()} ${level} eddy-agent: ${message}\n`));
  const log = (level: LogLevel, message: string): void => {
    if (levels[level] <= threshold) sinkLog(level, message);
  };
  const store = new CheckpointStore(cfg.checkpointFile);
  const stored = await store.load();

  let kinesis = options.kinesisClient;
  const ownsKinesis = kinesis === undefined && cfg.flows.some((f) => f.destination.kind === 'kinesis');
  if (ownsKinesis) {
    kinesis = new KinesisClient({
      region: cfg.kinesis.region ?? 'us-east-1',
      ...(cfg.kinesis.endpoint !== undefined ? { endpoint: cfg.kinesis.endpoint } : {}),
      ...(cfg.credentials !== undefined ? { credentials: cfg.credentials } : {}),
      // The producer retries; one SDK attempt keeps its accounting exact.
      maxAttempts: 1,
    });
  }
  let firehose = options.firehose;
  let ownedFirehose: { destroy(): void } | undefined;
  if (firehose === undefined && cfg.flows.some((f) => f.destination.kind === 'firehose')) {
    let client = options.firehoseClient;
    if (client === undefined) {
      let mod: typeof import('@aws-sdk/client-firehose');
      try {
        mod = await import('@aws-sdk/client-firehose');
      } catch (e) {
        throw new AgentError(AgentErrorCode.CONFIG, 'deliveryStream flows need the package @aws-sdk/client-firehose; install it next to @eddy/client', { cause: e });
      }
      const c = new mod.FirehoseClient({
        region: cfg.firehose.region ?? 'us-east-1',
        ...(cfg.firehose.endpoint !== undefined ? { endpoint: cfg.firehose.endpoint } : {}),
        ...(cfg.credentials !== undefined ? { credentials: cfg.credentials } : {}),
        maxAttempts: 1,
      });
      ownedFirehose = c;
      client = c;
    }
    firehose = await sdkFirehosePort(client);
  }

  if (cfg.cloudwatchEmitMetrics) {
    log('DEBUG', 'cloudwatch.emitMetrics: metrics are not sent to CloudWatch; they are in the progress log and on diagnostics channel eddy:agent:progress');
  }

  const startedAt = now();
  let dirty = false;
  const flows: Flow[] = [];
  const sinks: Sink[] = [];
  for (const fc of cfg.flows) {
    let flowRef: Flow | undefined;
    let lastFailureLog = 0;
    const events: SinkEvents = {
      onAttemptFailed(records, reason) {
        flowRef?.recordSendErrors(records);
        const t = now();
        if (t - lastFailureLog >= 5000) {
          lastFailureLog = t;
          log('WARN', `${fc.id}: sending ${records} record(s) failed, retrying: ${reason}`);
        }
      },
    };
    const sink = makeSink(fc, { kinesis, firehose, createProducer: options.createProducer ?? createProducer, events });
    const flow = new Flow(fc, {
      sink,
      log,
      now,
      checkpoints: stored.flows[fc.id],
      checkpointTtlMs: cfg.checkpointTimeToLiveDays * 86_400_000,
      onProgress: () => requestCheckpoint(),
    });
    flowRef = flow;
    flows.push(flow);
    sinks.push(sink);
  }

  // Flows the file has but the configuration no longer names are kept, as the agent keeps them until their TTL.
  const foreign: Record<string, readonly FileCheckpoint[]> = {};
  for (const [id, list] of Object.entries(stored.flows)) if (!cfg.flows.some((f) => f.id === id)) foreign[id] = list;

  const writeCheckpoints = async (): Promise<void> => {
    dirty = false;
    const out: Record<string, readonly FileCheckpoint[]> = { ...foreign };
    for (const f of flows) out[f.id] = f.checkpoints();
    await store.save({ flows: out });
  };
  // Write once at start: a flow's first run is then recorded, and files created later are read from their start.
  await writeCheckpoints();

  // A write starts as soon as an acknowledgement moved an offset, one at a time and at most one per
  // checkpointIntervalMillis: what a SIGKILL can make the agent send again is the acknowledgements
  // of that interval plus one write.
  let checkpointTimer: NodeJS.Timeout | undefined;
  let writing = false;
  let lastWriteAt = 0;
  let lastCheckpointError = 0;
  function requestCheckpoint(): void {
    dirty = true;
    if (writing || checkpointTimer !== undefined || closing !== undefined) return;
    const wait = Math.max(0, lastWriteAt + cfg.checkpointIntervalMillis - now());
    checkpointTimer = setTimeout(() => {
      checkpointTimer = undefined;
      if (closing !== undefined || !dirty) return;
      writing = true;
      lastWriteAt = now();
      writeCheckpoints()
        .catch((e: unknown) => {
          dirty = true;
          const t = now();
          if (t - lastCheckpointError > 10_000) {
            lastCheckpointError = t;
            log('ERROR', `cannot write the checkpoint file ${cfg.checkpointFile}: ${(e as Error).message}`);
          }
        })
        .finally(() => {
          writing = false;
          if (dirty) requestCheckpoint();
        });
    }, wait);
  }

  const progress = (): AgentProgress => {
    const per: Record<string, FlowMetrics> = {};
    const total: FlowMetrics = {
      filesTailed: 0,
      recordsParsed: 0,
      bytesConsumed: 0,
      recordsTransformed: 0,
      recordsSkipped: 0,
      recordsSent: 0,
      bytesSent: 0,
      recordSendErrors: 0,
      recordsInFlight: 0,
      bytesBehind: 0,
    };
    for (const f of flows) {
      const m = f.metrics();
      per[f.id] = m;
      for (const k of Object.keys(total) as (keyof FlowMetrics)[]) total[k] += m[k];
    }
    return { uptimeMs: now() - startedAt, total, flows: per };
  };

  const report = (): void => {
    const p = progress();
    const t = p.total;
    // The agent's status line (Agent.emitStatus), with the tailer's details after it.
    log(
      'INFO',
      `Progress: ${t.recordsParsed} records parsed (${t.bytesConsumed} bytes), and ${t.recordsSent} records sent successfully to destinations. ` +
        `Uptime: ${p.uptimeMs}ms. Files tailed: ${t.filesTailed}, records skipped: ${t.recordsSkipped}, send errors: ${t.recordSendErrors}, ` +
        `in flight: ${t.recordsInFlight}, ${t.bytesBehind} bytes behind.`,
    );
    if (cfg.logEmitInternalMetrics) log('INFO', `Status: ${JSON.stringify(p.flows)}`);
    if (progressChannel.hasSubscribers) progressChannel.publish(p);
  };
  const progressTimer = setInterval(report, cfg.statusReportingPeriodSeconds * 1000);
  progressTimer.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (checkpointTimer) clearTimeout(checkpointTimer);
      await Promise.all(flows.map((f) => f.stopReading()));
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), cfg.shutdownTimeoutMillis).unref());
      const settled = Promise.all([...sinks.map((s) => s.flush().catch(() => undefined)), ...flows.map((f) => f.drained())]).then(() => 'done' as const);
      if ((await Promise.race([settled, deadline])) === 'timeout') {
        log('WARN', `shutdown: records still unacknowledged after ${cfg.shutdownTimeoutMillis} ms are read again at the next start`);
      }
      await Promise.all(sinks.map((s) => s.close()));
      try {
        await writeCheckpoints();
      } finally {
        clearInterval(progressTimer);
        report();
        await Promise.all(flows.map((f) => f.closeFiles()));
        if (ownsKinesis) kinesis?.destroy();
        ownedFirehose?.destroy();
        log('INFO', `Shut down completed. Uptime: ${now() - startedAt}ms`);
      }
    })();
    return closing;
  };

  await Promise.all(flows.map((f) => f.start()));
  if (options.signal !== undefined) {
    if (options.signal.aborted) void close();
    else options.signal.addEventListener('abort', () => void close(), { once: true });
  }
  log('INFO', `started with ${flows.length} flow(s): ${flows.map((f) => f.id).join(', ')}; checkpoints in ${cfg.checkpointFile}`);

  return {
    progress,
    checkpoint: () => writeCheckpoints(),
    close,
  };
}

function makeSink(
  fc: FlowConfig,
  d: { kinesis: KinesisClient | undefined; firehose: FirehosePort | undefined; createProducer: ProducerFactory; events: SinkEvents },
): Sink {
  const retry = { initialMs: fc.retryInitialBackoffMillis, maxMs: fc.retryMaxBackoffMillis };
  const dest = fc.destination;
  if (dest.kind === 'kinesis') {
    return new KinesisSink({
      streamName: dest.streamName,
      client: d.kinesis as KinesisClient,
      createProducer: d.createProducer,
      lingerMs: fc.maxBufferAgeMillis,
      maxBatchRecords: fc.maxBufferSizeRecords,
      maxBatchBytes: fc.maxBufferSizeBytes,
      retry,
      events: d.events,
    });
  }
  return new FirehoseSink({
    deliveryStreamName: dest.deliveryStreamName,
    port: d.firehose as FirehosePort,
    maxBufferAgeMillis: fc.maxBufferAgeMillis,
    maxBatchRecords: fc.maxBufferSizeRecords,
    maxBatchBytes: fc.maxBufferSizeBytes,
    maxRecordBytes: fc.maxRecordBytes,
    aggregatedRecordSizeBytes: dest.aggregatedRecordSizeBytes,
    retry,
    events: d.events,
  });
}
