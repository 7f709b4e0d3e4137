import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeStreamSummaryCommand, type KinesisClient, ListStreamConsumersCommand, SplitShardCommand, type StartingPosition, SubscribeToShardCommand } from '@aws-sdk/client-kinesis';
import { createConsumer, createMemoryLeaseStore, type Consumer } from '../../src/consumer/index.js';
import { Collector } from './helpers/collector.js';
import { createStream, type EddyLike, kinesisClient, putAll, startEddy, uniqueName, waitActive, waitFor } from './helpers/eddy.js';

const fast = { failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 50, parentShardPollIntervalMs: 50, taskBackoffMs: 50 } as const;

describe('consumer with enhanced fan-out', () => {
  let eddy: EddyLike;
  let k: KinesisClient;
  // The server's clock runs `offset` ahead of real time: moving it ends subscriptions (5 minutes).
  let offset = 0;
  const running: Consumer[] = [];
  before(async () => {
    eddy = await startEddy({ heartbeatMs: 200, clock: { now: () => Date.now() + offset } });
    k = kinesisClient(eddy.endpoint);
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    k.destroy();
    await eddy.close();
  });

  it('registers the application as a stream consumer, reads parents then children, re-subscribes after 5 minutes', async () => {
    const stream = uniqueName('f');
    await createStream(k, stream, 2);
    const c = new Collector();
    // The consumer's own client, counting subscriptions.
    const fk = kinesisClient(eddy.endpoint);
    const subscriptions: { shard: string; position: StartingPosition }[] = [];
    const send = fk.send.bind(fk) as (cmd: unknown, o?: unknown) => Promise<unknown>;
    (fk as unknown as { send: typeof send }).send = (cmd, o) => {
      if (cmd instanceof SubscribeToShardCommand) subscriptions.push({ shard: cmd.input.ShardId!, position: cmd.input.StartingPosition! });
      return send(cmd, o);
    };
    const con = createConsumer({
      streamName: stream,
      applicationName: 'fanout-app',
      client: fk,
      leaseStore: createMemoryLeaseStore(),
      retrieval: 'fan-out',
      initialPosition: 'TRIM_HORIZON',
      processor: c.processor('w1'),
      onEvent: c.onEvent,
      ...fast,
    });
    running.push(con);
    const batch = (from: number) => Array.from({ length: 10 * 50 }, (_, i) => ({ key: `k${i % 10}`, data: `${i % 10}:${from + Math.floor(i / 10)}` }));
    await putAll(k, stream, batch(0));
    await con.start();
    const arn = (await k.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary!.StreamARN!;
    const consumers = await k.send(new ListStreamConsumersCommand({ StreamARN: arn }));
    assert.deepEqual(consumers.Consumers?.map((x) => [x.ConsumerName, x.ConsumerStatus]), [['fanout-app', 'ACTIVE']]);
    await waitFor('first 500', () => c.seen.length >= 500);
    await k.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 126n).toString() }));
    await waitActive(k, stream);
    await putAll(k, stream, batch(50));
    await waitFor('1000', () => c.seen.length >= 1000);
    // Every subscription's 5 minutes are up: the service ends them, the consumer subscribes again
    // after the last continuation sequence number.
    const before = subscriptions.length;
    offset += 5 * 60_000 + 1_000;
    await putAll(k, stream, batch(100));
    await waitFor('1500', () => c.seen.length >= 1500);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.seen.length, 1500, 'each record once');
    const again = subscriptions.slice(before);
    assert.ok(again.length >= 3, `re-subscribed: ${JSON.stringify(again)}`);
    assert.ok(again.every((x) => x.position.Type === 'AFTER_SEQUENCE_NUMBER'));
    const perKey = new Map<number, number>();
    for (const s of c.seen) {
      const [key, n] = s.data.split(':').map(Number) as [number, number];
      assert.equal(n, (perKey.get(key) ?? -1) + 1, `order of key ${key}`);
      perKey.set(key, n);
    }
    assert.ok(c.ended.has('shardId-000000000000'));
    const firstChild = c.seen.find((s) => s.shardId === 'shardId-000000000002' || s.shardId === 'shardId-000000000003');
    assert.ok(firstChild && firstChild.at >= c.ended.get('shardId-000000000000')!);
    assert.deepEqual(con.leases(), ['shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
    await con.stop();
    fk.destroy();
    assert.deepEqual(c.errors.map((e) => e.message), []);
  });
});
