// Enhanced fan-out consumers: states and their delays, limits, paging, lookup, ARNs, deletion with
// the stream, and survival across a restart (checklist 1.3, 1.6, 1.7 "Enhanced fan-out consumers").
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListStreamConsumersCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  paginateListStreamConsumers,
} from '@aws-sdk/client-kinesis';
import { startEddy } from '../../src/server.js';
import { client, startTestServer, type TestServer, uniqueName } from '../helpers/server.js';
import { shardId, streamWithConsumers, Subscriber } from './fan-out-support.js';

async function rejects(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function newStream(k: KinesisClient): Promise<{ StreamName: string; StreamARN: string }> {
  const StreamName = uniqueName();
  await k.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
  const s = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
  return { StreamName, StreamARN: s.StreamDescriptionSummary!.StreamARN! };
}

describe('fan-out consumers with a state delay (manual clock)', () => {
  let t: TestServer;
  let k: KinesisClient;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { stateDelayMs: 1000 } });
    k = t.kinesis;
  });
  after(() => t.close());

  /** Creates a stream and lets it become ACTIVE. */
  async function activeStream() {
    const s = await newStream(k);
    t.clock!.advance(1000);
    const d = await k.send(new DescribeStreamSummaryCommand({ StreamName: s.StreamName }));
    assert.equal(d.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
    return s;
  }

  it('goes CREATING -> ACTIVE -> DELETING -> gone, each after the delay', async () => {
    const { StreamName, StreamARN } = await activeStream();
    const created = t.clock!.now();
    const { Consumer } = await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'app' }));
    assert.equal(Consumer?.ConsumerStatus, 'CREATING');
    const ConsumerARN = Consumer!.ConsumerARN!;
    // ARN of AWS's form, with the creation time in epoch seconds (checklist 1.4).
    assert.equal(ConsumerARN, `${StreamARN}/consumer/app:${Math.floor(created / 1000)}`);
    assert.equal(Consumer?.ConsumerCreationTimestamp?.getTime(), created);

    t.clock!.advance(999);
    const creating = await k.send(new DescribeStreamConsumerCommand({ ConsumerARN }));
    assert.equal(creating.ConsumerDescription?.ConsumerStatus, 'CREATING');
    // Not ACTIVE yet: no subscription (checklist 1.3 "Consumer must be ACTIVE").
    await rejects(k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'LATEST' } })), 'ResourceInUseException');
    const summary = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(summary.StreamDescriptionSummary?.ConsumerCount, 1);

    t.clock!.advance(1);
    const active = await k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'app' }));
    assert.equal(active.ConsumerDescription?.ConsumerStatus, 'ACTIVE');
    assert.equal(active.ConsumerDescription?.ConsumerARN, ConsumerARN);
    assert.equal(active.ConsumerDescription?.StreamARN, StreamARN);
    const listed = await k.send(new ListStreamConsumersCommand({ StreamARN }));
    assert.deepEqual(listed.Consumers?.map((c) => [c.ConsumerName, c.ConsumerStatus, c.ConsumerARN]), [['app', 'ACTIVE', ConsumerARN]]);

    await k.send(new DeregisterStreamConsumerCommand({ StreamARN, ConsumerName: 'app' }));
    const deleting = await k.send(new DescribeStreamConsumerCommand({ ConsumerARN }));
    assert.equal(deleting.ConsumerDescription?.ConsumerStatus, 'DELETING');
    // The name stays taken while the consumer is being deleted.
    await rejects(k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'app' })), 'ResourceInUseException');
    const deletingSummary = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(deletingSummary.StreamDescriptionSummary?.ConsumerCount, 0);

    t.clock!.advance(1000);
    await rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerARN })), 'ResourceNotFoundException');
    await rejects(k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'app' })), 'ResourceNotFoundException');
    assert.deepEqual((await k.send(new ListStreamConsumersCommand({ StreamARN }))).Consumers, []);
  });

  it('allows at most 5 consumers in CREATING at once', async () => {
    const { StreamARN } = await activeStream();
    for (let i = 0; i < 5; i++) await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: `c${i}` }));
    await rejects(k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'c5' })), 'LimitExceededException', /CREATING/);
    t.clock!.advance(1000);
    // Once they are ACTIVE, five more may start.
    for (let i = 5; i < 10; i++) await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: `c${i}` }));
    const l = await k.send(new ListStreamConsumersCommand({ StreamARN }));
    assert.deepEqual(
      l.Consumers?.map((c) => c.ConsumerStatus),
      [...Array(5).fill('ACTIVE'), ...Array(5).fill('CREATING')],
    );
  });

  it('allows at most 20 consumers per stream, and pages ListStreamConsumers with NextToken', async () => {
    const { StreamARN } = await activeStream();
    const names: string[] = [];
    for (let i = 0; i < 20; i++) {
      const ConsumerName = `consumer-${String(i).padStart(2, '0')}`;
      names.push(ConsumerName);
      await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName }));
      if (i % 5 === 4) t.clock!.advance(1000);
    }
    await rejects(k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'one-too-many' })), 'LimitExceededException');

    const pages: string[][] = [];
    let NextToken: string | undefined;
    do {
      const page = await k.send(new ListStreamConsumersCommand({ StreamARN, MaxResults: 7, ...(NextToken ? { NextToken } : {}) }));
      pages.push(page.Consumers!.map((c) => c.ConsumerName!));
      NextToken = page.NextToken;
    } while (NextToken);
    assert.deepEqual(pages.map((p) => p.length), [7, 7, 6]);
    assert.deepEqual(pages.flat(), names);

    // The SDK's paginator walks the same pages.
    const viaPaginator: string[] = [];
    for await (const page of paginateListStreamConsumers({ client: k, pageSize: 6 }, { StreamARN })) {
      viaPaginator.push(...page.Consumers!.map((c) => c.ConsumerName!));
    }
    assert.deepEqual(viaPaginator, names);

    // A token belongs to its stream, and expires after 300 s (checklist 1.15).
    const first = await k.send(new ListStreamConsumersCommand({ StreamARN, MaxResults: 1 }));
    const other = await activeStream();
    await rejects(k.send(new ListStreamConsumersCommand({ StreamARN: other.StreamARN, NextToken: first.NextToken! })), 'InvalidArgumentException');
    t.clock!.advance(300_001);
    await rejects(k.send(new ListStreamConsumersCommand({ StreamARN, NextToken: first.NextToken! })), 'ExpiredNextTokenException');
  });

  it('finds a consumer by ARN or by StreamARN and name, and refuses mismatches', async () => {
    const { StreamARN } = await activeStream();
    const { Consumer } = await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'finder' }));
    const ConsumerARN = Consumer!.ConsumerARN!;
    const byArn = await k.send(new DescribeStreamConsumerCommand({ ConsumerARN }));
    const byName = await k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'finder' }));
    const byBoth = await k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'finder', ConsumerARN }));
    assert.deepEqual(byArn.ConsumerDescription, byName.ConsumerDescription);
    assert.deepEqual(byArn.ConsumerDescription, byBoth.ConsumerDescription);
    await rejects(k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'nobody' })), 'ResourceNotFoundException');
    await rejects(k.send(new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'other', ConsumerARN })), 'InvalidArgumentException');
    await rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerName: 'finder' })), 'InvalidArgumentException');
    await rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerARN: `${StreamARN}/consumer/finder:1` })), 'ResourceNotFoundException');
  });

  it('gives a re-registered consumer a new ARN; the old ARN is gone', async () => {
    const { StreamARN } = await activeStream();
    const first = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'again' }))).Consumer!.ConsumerARN!;
    t.clock!.advance(1000);
    await k.send(new DeregisterStreamConsumerCommand({ ConsumerARN: first }));
    t.clock!.advance(1000);
    const second = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'again' }))).Consumer!.ConsumerARN!;
    assert.notEqual(second, first);
    await rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerARN: first })), 'ResourceNotFoundException');
    assert.equal((await k.send(new DescribeStreamConsumerCommand({ ConsumerARN: second }))).ConsumerDescription?.ConsumerStatus, 'CREATING');
  });

  it('refuses DeleteStream while consumers are registered unless EnforceConsumerDeletion', async () => {
    const { StreamName, StreamARN } = await activeStream();
    const ConsumerARN = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'keeper' }))).Consumer!.ConsumerARN!;
    await rejects(k.send(new DeleteStreamCommand({ StreamName })), 'ResourceInUseException', /consumers/);
    await rejects(k.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: false })), 'ResourceInUseException');
    await k.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: true }));
    const d = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
    assert.equal(d.StreamDescriptionSummary?.StreamStatus, 'DELETING');
    t.clock!.advance(1000);
    await rejects(k.send(new DescribeStreamSummaryCommand({ StreamName })), 'ResourceNotFoundException');
    await rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerARN })), 'ResourceNotFoundException');
  });
});

describe('fan-out consumers without a state delay', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('gives a new ARN even when re-registered within the same second', async () => {
    const k = t.kinesis;
    const { StreamARN, ConsumerARN } = await streamWithConsumers(k, 1, ['quick']);
    await k.send(new DeregisterStreamConsumerCommand({ ConsumerARN }));
    const again = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'quick' }))).Consumer!.ConsumerARN!;
    assert.notEqual(again, ConsumerARN);
    assert.match(again, /\/consumer\/quick:\d+$/);
    await rejects(k.send(new DescribeStreamConsumerCommand({ ConsumerARN })), 'ResourceNotFoundException');
  });
});

describe('fan-out consumers survive a restart (disk storage)', () => {
  it('keeps consumers, their ARNs, states and timestamps, and serves them after the restart', async () => {
    const t = await startTestServer({ disk: true, manualClock: true, options: { stateDelayMs: 1000 } });
    let second: Awaited<ReturnType<typeof startEddy>> | undefined;
    let k2: KinesisClient | undefined;
    try {
      const k = t.kinesis;
      const { StreamName, StreamARN } = await newStream(k);
      t.clock!.advance(1000);
      const active = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'active' }))).Consumer!;
      t.clock!.advance(1000);
      const creating = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'creating' }))).Consumer!;
      await k.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('before restart') }));
      const before = await k.send(new ListStreamConsumersCommand({ StreamARN }));
      await t.eddy.close();

      second = await startEddy({
        port: 0,
        host: '127.0.0.1',
        dataDir: t.dataDir!,
        stateDelayMs: 1000,
        throttle: false,
        clock: t.clock!,
        log: () => undefined,
      });
      k2 = client(second.endpoint);
      const afterRestart = await k2.send(new ListStreamConsumersCommand({ StreamARN }));
      assert.deepEqual(afterRestart.Consumers, before.Consumers);
      assert.deepEqual(
        afterRestart.Consumers?.map((c) => [c.ConsumerName, c.ConsumerStatus, c.ConsumerARN]),
        [
          ['active', 'ACTIVE', active.ConsumerARN],
          ['creating', 'CREATING', creating.ConsumerARN],
        ],
      );
      const summary = await k2.send(new DescribeStreamSummaryCommand({ StreamName }));
      assert.equal(summary.StreamDescriptionSummary?.ConsumerCount, 2);
      // The pending transition carries over too.
      t.clock!.advance(1000);
      const now = await k2.send(new DescribeStreamConsumerCommand({ ConsumerARN: creating.ConsumerARN! }));
      assert.equal(now.ConsumerDescription?.ConsumerStatus, 'ACTIVE');
      // And the restored consumer subscribes and reads what was written before the restart.
      const sub = await Subscriber.open(k2, active.ConsumerARN!, shardId(0));
      await sub.until((s) => s.records.length >= 1, 'the record written before the restart');
      assert.deepEqual(sub.data, ['before restart']);
      sub.abort();
      await sub.done;
    } finally {
      k2?.destroy();
      await second?.close();
      await t.close();
    }
  });
});
