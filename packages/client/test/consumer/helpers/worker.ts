// A consumer worker in its own process, for the acceptance test (it must be SIGKILL-able).
// argv[2] is a JSON WorkerConfig. Everything it does goes to its log file, one JSON line per
// event, written synchronously before the checkpoint it precedes: what the log says was
// processed, was processed, even when the process dies on the next line.
import { closeSync, openSync, writeSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { createConsumer, createDynamoDbLeaseStore, createPostgresLeaseStore, type LeaseStore } from '../../../src/consumer/index.js';

export interface WorkerConfig {
  workerId: string;
  endpoint: string;
  streamName: string;
  applicationName: string;
  leases: { kind: 'dynamodb'; endpoint: string } | { kind: 'postgres'; connectionString: string };
  retrieval: 'polling' | 'fan-out';
  failoverTimeMs: number;
  log: string;
}

/** One line of a worker's log. */
export type LogLine =
  | { t: 'ready'; at: number }
  | { t: 'init'; at: number; shard: string; session: string; checkpoint: string }
  | { t: 'recs'; at: number; shard: string; session: string; recs: [string, number][] }
  | { t: 'end'; at: number; shard: string }
  | { t: 'ended'; at: number; shard: string }
  | { t: 'lost' | 'shutdown'; at: number; shard: string }
  | { t: 'taken'; at: number; shard: string; prev: string | null; stolen: boolean }
  | { t: 'error'; at: number; shard: string | null; op: string; message: string }
  | { t: 'stopped'; at: number };

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const fd = openSync(config.log, 'a');
const log = (l: LogLine) => writeSync(fd, `${JSON.stringify(l)}\n`);
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };

const client = new KinesisClient({ endpoint: config.endpoint, region: 'us-east-1', credentials });
let store: LeaseStore;
let ddb: DynamoDBClient | undefined;
if (config.leases.kind === 'dynamodb') {
  ddb = new DynamoDBClient({ endpoint: config.leases.endpoint, region: 'us-east-1', credentials });
  store = createDynamoDbLeaseStore({ client: ddb });
} else {
  store = createPostgresLeaseStore({ connectionString: config.leases.connectionString });
}

const sessions = new Map<string, string>();
const lastCheckpoint = new Map<string, number>();
let n = 0;
const consumer = createConsumer({
  streamName: config.streamName,
  applicationName: config.applicationName,
  workerId: config.workerId,
  client,
  leaseStore: store,
  initialPosition: 'TRIM_HORIZON',
  retrieval: config.retrieval,
  failoverTimeMs: config.failoverTimeMs,
  idleTimeBetweenReadsMs: 100,
  parentShardPollIntervalMs: 100,
  taskBackoffMs: 100,
  shardSyncIntervalMs: 1_000,
  processor: {
    initialize({ shardId, checkpoint }) {
      const session = `${config.workerId}/${shardId}/${n++}`;
      sessions.set(shardId, session);
      log({ t: 'init', at: Date.now(), shard: shardId, session, checkpoint: `${checkpoint.sequenceNumber}/${checkpoint.subSequenceNumber}` });
    },
    async processRecords({ shardId, records, checkpointer }) {
      const recs = records.map((r): [string, number] => {
        const [key, seq] = r.data.toString().split(':');
        return [key ?? '', Number(seq)];
      });
      log({ t: 'recs', at: Date.now(), shard: shardId, session: sessions.get(shardId) ?? '?', recs });
      // Checkpoints at most every 500 ms, as applications do: a kill then leaves processed,
      // uncheckpointed records that the next owner processes again.
      if (Date.now() - (lastCheckpoint.get(shardId) ?? 0) >= 500) {
        await checkpointer.checkpoint();
        lastCheckpoint.set(shardId, Date.now());
      }
    },
    leaseLost({ shardId }) {
      log({ t: 'lost', at: Date.now(), shard: shardId });
    },
    async shardEnded({ shardId, checkpointer }) {
      // Logged before the checkpoint: a child cannot start before this line is written.
      log({ t: 'end', at: Date.now(), shard: shardId });
      await checkpointer.checkpoint();
      log({ t: 'ended', at: Date.now(), shard: shardId });
    },
    async shutdownRequested({ shardId, checkpointer }) {
      await checkpointer.checkpoint();
      log({ t: 'shutdown', at: Date.now(), shard: shardId });
    },
  },
  onEvent(e) {
    if (e.type === 'leaseTaken') log({ t: 'taken', at: Date.now(), shard: e.shardId, prev: e.previousOwner ?? null, stolen: e.stolen });
    if (e.type === 'error') log({ t: 'error', at: Date.now(), shard: e.shardId ?? null, op: e.operation, message: e.error.message });
  },
});

async function shutdown(code: number) {
  await consumer.stop();
  await store.close();
  ddb?.destroy();
  client.destroy();
  log({ t: 'stopped', at: Date.now() });
  closeSync(fd);
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown(0));
// The test runner died: do not linger.
process.on('disconnect', () => void shutdown(1));
await consumer.start();
log({ t: 'ready', at: Date.now() });
