// Test helpers: a real in-process Eddy (the server package is a test-only dependency, loaded by
// path so that client src never sees it) and reading a whole stream back.
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { type DeaggregatedRecord, deaggregate } from '../../src/aggregation/index.js';

interface EddyLike {
  endpoint: string;
  close(): Promise<void>;
}
type StartEddy = (o: Record<string, unknown>) => Promise<EddyLike>;

// From packages/client/dist/test/producer/ to packages/server/dist/src/server.js.
const serverUrl = new URL('../../../../server/dist/src/server.js', import.meta.url);

export async function startEddy(options: { throttle?: boolean } = {}): Promise<EddyLike> {
  const mod = (await import(serverUrl.href)) as { startEddy: StartEddy };
  return mod.startEddy({ port: 0, memory: true, stateDelayMs: 0, throttle: options.throttle ?? false, log: () => {} });
}

export function kinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } });
}

let n = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now()}-${n++}`;
}

export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

export async function deleteStream(client: KinesisClient, name: string): Promise<void> {
  await client.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true })).catch(() => {});
}

export async function listAllShards(client: KinesisClient, name: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: name }));
    shards.push(...(out.Shards ?? []));
    token = out.NextToken;
  } while (token);
  return shards;
}

export interface ReadRecord extends DeaggregatedRecord {
  shardId: string;
  sequenceNumber: string;
}

/**
 * Reads every shard from TRIM_HORIZON to its end (closed shards) or to the tip (open ones) and
 * deaggregates with each shard's hash range, as the KCL does (checklist 2.3).
 */
export async function readAll(client: KinesisClient, name: string): Promise<{ records: ReadRecord[]; kinesisRecords: number; misplaced: number }> {
  const shards = await listAllShards(client, name);
  const records: ReadRecord[] = [];
  let kinesisRecords = 0;
  let misplaced = 0;
  for (const s of shards) {
    const range = { start: BigInt(s.HashKeyRange?.StartingHashKey ?? '0'), end: BigInt(s.HashKeyRange?.EndingHashKey ?? '0') };
    const it = await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    let iterator = it.ShardIterator;
    while (iterator) {
      const out = await getRecords(client, iterator);
      for (const r of out.Records ?? []) {
        kinesisRecords++;
        const kinesisRecord = { data: r.Data ?? new Uint8Array(), partitionKey: r.PartitionKey ?? '' };
        const users = deaggregate(kinesisRecord, range);
        if (users.length === 0) misplaced++;
        for (const u of users) records.push({ ...u, shardId: s.ShardId ?? '', sequenceNumber: r.SequenceNumber ?? '' });
      }
      if ((out.Records ?? []).length === 0 && (out.MillisBehindLatest ?? 0) === 0) break;
      iterator = out.NextShardIterator;
    }
  }
  return { records, kinesisRecords, misplaced };
}

/**
 * GetRecords, waiting out read throttling: with throttling on, Eddy holds a shard to 2 MiB/s of
 * reads, and a stream written at full speed can take longer to read than the SDK's three attempts.
 */
async function getRecords(client: KinesisClient, iterator: string): Promise<GetRecordsCommandOutput> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10000 }));
    } catch (e) {
      if ((e as { name?: unknown }).name !== 'ProvisionedThroughputExceededException' || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
