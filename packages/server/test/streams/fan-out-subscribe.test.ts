// SubscribeToShard through @aws-sdk/client-kinesis (`for await` over the EventStream) on every
// transport Eddy serves: h2c (the SDK's default), h2 over TLS, HTTP/1.1 and HTTP/1.1 over TLS
// (checklist 1.3). Time is a manual clock; the heartbeat is a minute, so anything that arrives
// during a test was pushed, not found by a timer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  type KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  StartStreamEncryptionCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { clientFor, shardId, streamWithConsumers, Subscriber, type Transport, waitFor } from './fan-out-support.js';

const HALF = (1n << 127n).toString();

async function rejects(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function put(k: KinesisClient, StreamName: string, data: string, PartitionKey = 'p') {
  const r = await k.send(new PutRecordCommand({ StreamName, PartitionKey, Data: Buffer.from(data) }));
  return r.SequenceNumber!;
}

const TRANSPORTS: readonly Transport[] = ['h2c', 'h2-tls', 'http1', 'https1'];

for (const transport of TRANSPORTS) {
  const tls = transport === 'h2-tls' || transport === 'https1';

  describe(`SubscribeToShard over ${transport}`, () => {
    let t: TestServer;
    let k: KinesisClient;
    before(async () => {
      t = await startTestServer({ manualClock: true, options: { heartbeatMs: 60_000, tls } });
      assert.equal(new URL(t.eddy.endpoint).protocol, tls ? 'https:' : 'http:');
      k = clientFor(t.eddy.endpoint, transport);
    });
    after(async () => {
      k.destroy();
      await t.close();
    });

    it('starts at each of the five starting positions', async () => {
      const consumers = ['trim', 'at', 'after', 'ts', 'old-ts', 'latest'];
      const { StreamName, ConsumerARNs } = await streamWithConsumers(k, 1, consumers);
      const arn = (name: string) => ConsumerARNs[consumers.indexOf(name)]!;
      const t0 = t.clock!.now();
      const seq = [await put(k, StreamName, 'r0'), await put(k, StreamName, 'r1')];
      t.clock!.advance(2000);
      seq.push(await put(k, StreamName, 'r2'), await put(k, StreamName, 'r3'), await put(k, StreamName, 'r4'));

      const read = async (name: string, StartingPosition: Parameters<typeof Subscriber.open>[3], n: number) => {
        const s = await Subscriber.open(k, arn(name), shardId(0), StartingPosition);
        await s.until((x) => x.records.length >= n, `${n} records for ${name}`);
        s.abort();
        await s.done;
        return s;
      };
      const trim = await read('trim', { Type: 'TRIM_HORIZON' }, 5);
      assert.deepEqual(trim.data, ['r0', 'r1', 'r2', 'r3', 'r4']);
      assert.deepEqual(trim.records.map((r) => r.SequenceNumber), seq);
      assert.deepEqual((await read('at', { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: seq[2] }, 3)).data, ['r2', 'r3', 'r4']);
      assert.deepEqual((await read('after', { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: seq[2] }, 2)).data, ['r3', 'r4']);
      assert.deepEqual((await read('ts', { Type: 'AT_TIMESTAMP', Timestamp: new Date(t0 + 1000) }, 3)).data, ['r2', 'r3', 'r4']);
      // Older than the trim horizon: from the trim horizon (checklist 1.3).
      assert.deepEqual((await read('old-ts', { Type: 'AT_TIMESTAMP', Timestamp: new Date(t0 - 86_400_000) }, 5)).data, ['r0', 'r1', 'r2', 'r3', 'r4']);

      const latest = await Subscriber.open(k, arn('latest'), shardId(0), { Type: 'LATEST' });
      await put(k, StreamName, 'r5');
      await latest.until((x) => x.records.length >= 1, 'r5');
      assert.deepEqual(latest.data, ['r5']);
      latest.abort();
    });

    it('refuses bad calls before the stream starts, as ordinary errors', async () => {
      const { StreamARN, ConsumerARN } = await streamWithConsumers(k, 1, ['errs']);
      const sub = (StartingPosition: { Type: 'AT_SEQUENCE_NUMBER' | 'AT_TIMESTAMP' | 'LATEST'; SequenceNumber?: string; Timestamp?: Date }, ShardId = shardId(0), arn = ConsumerARN) =>
        k.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId, StartingPosition }));
      await rejects(sub({ Type: 'LATEST' }, shardId(7)), 'ResourceNotFoundException', /does not exist/);
      await rejects(sub({ Type: 'LATEST' }, shardId(0), `${StreamARN}/consumer/nobody:1`), 'ResourceNotFoundException');
      await rejects(sub({ Type: 'AT_SEQUENCE_NUMBER' }), 'InvalidArgumentException');
      await rejects(sub({ Type: 'AT_TIMESTAMP', Timestamp: new Date(t.clock!.now() + 60_000) }), 'InvalidArgumentException');
      // None of them counted as a subscription: the first good call is accepted.
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      s.abort();
    });

    it('pushes a record put while subscribed, before any idle event, in order', async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      // The subscription is open (its response has arrived); nothing has been sent yet.
      assert.equal(s.events.length, 0);
      const first = await put(k, StreamName, 'one');
      await s.until((x) => x.records.length >= 1, 'the record');
      // The heartbeat is a minute away, so this event can only have been caused by the put.
      const e = s.events[0]!;
      assert.deepEqual(e.Records!.map((r) => Buffer.from(r.Data!).toString()), ['one']);
      assert.equal(e.Records![0]!.SequenceNumber, first);
      assert.equal(e.Records![0]!.PartitionKey, 'p');
      assert.equal(e.Records![0]!.ApproximateArrivalTimestamp?.getTime(), t.clock!.now());
      assert.equal(e.ContinuationSequenceNumber, first);
      assert.equal(e.MillisBehindLatest, 0);
      assert.equal(e.ChildShards, undefined);
      const more: string[] = [];
      for (let i = 0; i < 20; i++) more.push(await put(k, StreamName, `n${i}`));
      await s.until((x) => x.records.length >= 21, '20 more records');
      assert.deepEqual(s.records.map((r) => r.SequenceNumber), [first, ...more]);
      for (const ev of s.events) assert.equal(ev.ContinuationSequenceNumber, ev.Records![ev.Records!.length - 1]!.SequenceNumber);
      s.abort();
      await s.done;
      assert.equal(s.error, undefined);
    });

    it('ends the stream normally after 5 minutes', async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      await put(k, StreamName, 'in time');
      await s.until((x) => x.records.length === 1, 'the first record');
      t.clock!.advance(5 * 60_000);
      // The clock moved without the server noticing; the next append wakes the subscription.
      await put(k, StreamName, 'too late');
      await s.finished();
      assert.equal(s.error, undefined);
      assert.deepEqual(s.data, ['in time']);
      // The client re-subscribes from the continuation and misses nothing.
      const again = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: s.events.at(-1)!.ContinuationSequenceNumber! });
      await again.until((x) => x.records.length >= 1, 'the record after the end');
      assert.deepEqual(again.data, ['too late']);
      again.abort();
    });

    it('refuses a second subscription within 5 s; a later one takes over from the first', async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      const first = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      await rejects(k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'LATEST' } })), 'ResourceInUseException');
      t.clock!.advance(4_999);
      await rejects(k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId: shardId(0), StartingPosition: { Type: 'LATEST' } })), 'ResourceInUseException');
      t.clock!.advance(1);
      const second = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      await first.finished();
      assert.equal((first.error as Error | undefined)?.name, 'ResourceInUseException');
      await put(k, StreamName, 'for the second');
      await second.until((x) => x.records.length >= 1, 'the record');
      assert.deepEqual(second.data, ['for the second']);
      assert.deepEqual(first.data, []);
      second.abort();
    });

    it('ends a closed shard with ChildShards and no continuation sequence number', async () => {
      const { StreamName, ConsumerARNs } = await streamWithConsumers(k, 1, ['live', 'after']);
      const live = await Subscriber.open(k, ConsumerARNs[0]!, shardId(0), { Type: 'TRIM_HORIZON' });
      await put(k, StreamName, 'x');
      await live.until((x) => x.records.length >= 1, 'the record');
      // Closed while subscribed: the end is pushed at once (the heartbeat is a minute away).
      await k.send(new SplitShardCommand({ StreamName, ShardToSplit: shardId(0), NewStartingHashKey: HALF }));
      await live.finished();
      assert.equal(live.error, undefined);
      const last = live.events.at(-1)!;
      assert.equal(last.ContinuationSequenceNumber, undefined);
      assert.deepEqual(last.Records, []);
      assert.deepEqual(
        last.ChildShards?.map((c) => [c.ShardId, c.ParentShards, c.HashKeyRange?.StartingHashKey]),
        [
          [shardId(1), [shardId(0)], '0'],
          [shardId(2), [shardId(0)], HALF],
        ],
      );
      for (const e of live.events.slice(0, -1)) {
        assert.ok(e.ContinuationSequenceNumber);
        assert.equal(e.ChildShards, undefined);
      }
      // Read after it closed: the records, and the end with them or after them; LATEST is the end at once.
      const afterwards = await Subscriber.open(k, ConsumerARNs[1]!, shardId(0), { Type: 'TRIM_HORIZON' });
      await afterwards.finished();
      assert.deepEqual(afterwards.data, ['x']);
      assert.equal(afterwards.events.at(-1)!.ContinuationSequenceNumber, undefined);
      assert.equal(afterwards.events.at(-1)!.ChildShards?.length, 2);
      t.clock!.advance(5_000);
      const atEnd = await Subscriber.open(k, ConsumerARNs[1]!, shardId(0), { Type: 'LATEST' });
      await atEnd.finished();
      assert.equal(atEnd.events.length, 1);
      assert.deepEqual(atEnd.events[0]!.Records, []);
      assert.equal(atEnd.events[0]!.ChildShards?.length, 2);

      // A merge: each parent reports the one child, naming both parents.
      await k.send(new MergeShardsCommand({ StreamName, ShardToMerge: shardId(1), AdjacentShardToMerge: shardId(2) }));
      t.clock!.advance(5_000);
      const merged = await Subscriber.open(k, ConsumerARNs[1]!, shardId(2), { Type: 'TRIM_HORIZON' });
      await merged.finished();
      assert.deepEqual(merged.events.at(-1)!.ChildShards?.map((c) => [c.ShardId, c.ParentShards]), [[shardId(3), [shardId(1), shardId(2)]]]);
    });

    it('sends ResourceNotFoundException in the stream when the consumer is deregistered', async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      await put(k, StreamName, 'before');
      await s.until((x) => x.records.length >= 1, 'the record');
      await k.send(new DeregisterStreamConsumerCommand({ ConsumerARN }));
      await s.finished();
      assert.equal((s.error as Error | undefined)?.name, 'ResourceNotFoundException');
      assert.deepEqual(s.data, ['before']);
    });

    it('sends ResourceNotFoundException in the stream when the stream is deleted', async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
      await put(k, StreamName, 'before');
      await s.until((x) => x.records.length >= 1, 'the record');
      await k.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: true }));
      await s.finished();
      assert.equal((s.error as Error | undefined)?.name, 'ResourceNotFoundException');
      await waitFor(() => t.eddy.streams.subscriptions.size === 0, 'no subscriptions left');
    });

    it('decrypts records of an encrypted stream and marks them KMS', async () => {
      const { StreamName, ConsumerARN } = await streamWithConsumers(k);
      await put(k, StreamName, 'clear');
      await k.send(new StartStreamEncryptionCommand({ StreamName, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'TRIM_HORIZON' });
      await put(k, StreamName, 'secret');
      await s.until((x) => x.records.length >= 2, 'both records');
      assert.deepEqual(s.data, ['clear', 'secret']);
      assert.deepEqual(s.records.map((r) => r.EncryptionType ?? 'NONE'), ['NONE', 'KMS']);
      // What storage holds is not the plaintext.
      const st = [...t.eddy.streams.allStreams()].find((x) => x.meta.name === StreamName)!;
      const stored = await t.eddy.streams.storage.log.read({ streamId: st.meta.id, shardIndex: 0 }, 0n, { maxRecords: 10, maxBytes: Infinity });
      assert.equal(stored.length, 2);
      assert.notEqual(stored[1]!.keyId, 0);
      assert.ok(!Buffer.from(stored[1]!.data).includes(Buffer.from('secret')));
      s.abort();
    });
  });

  describe(`SubscribeToShard idle events over ${transport}`, () => {
    let t: TestServer;
    let k: KinesisClient;
    before(async () => {
      t = await startTestServer({ options: { heartbeatMs: 50, tls } });
      k = clientFor(t.eddy.endpoint, transport);
    });
    after(async () => {
      k.destroy();
      await t.close();
    });

    it('sends empty events with a continuation while idle; resuming from it loses nothing', async () => {
      const { StreamName, StreamARN, ConsumerARN } = await streamWithConsumers(k);
      const shards = await k.send(new ListShardsCommand({ StreamName }));
      const start = shards.Shards![0]!.SequenceNumberRange!.StartingSequenceNumber!;
      const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'TRIM_HORIZON' });
      await s.until((x) => x.events.length >= 2, 'two idle events');
      for (const e of s.events) {
        assert.deepEqual(e.Records, []);
        assert.equal(e.MillisBehindLatest, 0);
        // Nothing read yet: the continuation is the shard's start.
        assert.equal(e.ContinuationSequenceNumber, start);
      }
      const sn = await put(k, StreamName, 'a');
      await s.until((x) => x.records.length === 1 && x.events.at(-1)!.Records!.length === 0, 'the record, then an idle event');
      assert.equal(s.events.at(-1)!.ContinuationSequenceNumber, sn);
      s.abort();
      // Another consumer resumes from the idle event's continuations, before and after the record.
      const other = (await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'resumer' }))).Consumer!.ConsumerARN!;
      const fromStart = await Subscriber.open(k, other, shardId(0), { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: start });
      await fromStart.until((x) => x.records.length >= 1, 'the record');
      assert.deepEqual(fromStart.data, ['a']);
      fromStart.abort();
    });
  });
}
