// Shared by the agent's tests: a real Eddy in this process (imported from the server's build, since
// the client package may not depend on the server), stream helpers, temp dirs and polling.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';

export const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

export interface TestEddy {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Eddy on a free loopback port, memory storage, no throttling. */
export async function startTestEddy(): Promise<TestEddy> {
  // From packages/client/dist/test/agent/ to packages/server/dist/src/server.js.
  const url = new URL('../../../../server/dist/src/server.js', import.meta.url).href;
  const { startEddy } = (await import(url)) as { startEddy(o: Record<string, unknown>): Promise<TestEddy> };
  return startEddy({ port: 0, host: '127.0.0.1', memory: true, stateDelayMs: 0, throttle: false, log: () => undefined });
}

export function kinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 3 });
}

let counter = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export async function createStream(client: KinesisClient, name: string, shards = 2): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitFor(async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', 10_000);
}

/** Every record in the stream, all shards, oldest first per shard, as UTF-8 strings. */
export async function readStream(client: KinesisClient, name: string): Promise<string[]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const out: string[] = [];
  for (const s of shards) {
    let it = (await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (it !== undefined) {
      const r = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      for (const rec of r.Records ?? []) out.push(Buffer.from(rec.Data ?? new Uint8Array()).toString('utf8'));
      if ((r.Records ?? []).length === 0 || r.MillisBehindLatest === 0) break;
      it = r.NextShardIterator;
    }
  }
  return out;
}

/** Polls until `cond` holds; fails after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-agent-'));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Counts of each distinct value. */
export function tally(values: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Lines `${prefix}-${i}` padded for readable diffs. */
export function lines(prefix: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(`${prefix} line ${String(i).padStart(6, '0')} ${'x'.repeat(i % 40)}`);
  return out;
}
