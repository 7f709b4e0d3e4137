// A real in-process Eddy for consumer tests. The server package is a test-only dependency loaded
// by path, so that client src never sees it.
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';

export interface EddyLike {
  endpoint: string;
  close(): Promise<void>;
}
type StartEddy = (o: Record<string, unknown>) => Promise<EddyLike>;

// From packages/client/dist/test/consumer/helpers/ to packages/server/dist/src/server.js.
const serverUrl = new URL('../../../../../server/dist/src/server.js', import.meta.url);

export async function startEddy(options: Record<string, unknown> = {}): Promise<EddyLike> {
  const mod = (await import(serverUrl.href)) as { startEddy: StartEddy };
  return mod.startEddy({ port: 0, memory: true, stateDelayMs: 0, throttle: false, log: () => {}, ...options });
}

export const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };

export function kinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({ endpoint, region: 'us-east-1', credentials });
}

let n = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${n++}`;
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitActive(client, name);
}

export async function waitActive(client: KinesisClient, name: string): Promise<void> {
  await waitFor(`${name} ACTIVE`, async () => {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  });
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

/** Writes records in one PutRecords call per 500, in order; fails on any refused record. */
export async function putAll(client: KinesisClient, name: string, records: { key: string; data: string; ehk?: string }[]): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    const r = await client.send(
      new PutRecordsCommand({
        StreamName: name,
        Records: chunk.map((x) => ({ PartitionKey: x.key, Data: Buffer.from(x.data), ...(x.ehk ? { ExplicitHashKey: x.ehk } : {}) })),
      }),
    );
    if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records refused`);
  }
}

/** A hash key in the middle of a shard's range, for splits. */
export function midHashKey(s: Shard): string {
  const a = BigInt(s.HashKeyRange?.StartingHashKey ?? '0');
  const b = BigInt(s.HashKeyRange?.EndingHashKey ?? '0');
  return ((a + b) / 2n).toString();
}
