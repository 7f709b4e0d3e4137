import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type KinesisClient, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { effectiveHashKey } from '../../src/aggregation/index.js';
import { createProducer, type Producer, ProducerError, ProducerErrorCode, type PutResult } from '../../src/producer/index.js';
import { createStream, deleteStream, kinesisClient, listAllShards, type ReadRecord, readAll, startEddy, uniqueName } from './helpers.js';

type Eddy = Awaited<ReturnType<typeof startEddy>>;

/** Reads the stream and checks every (key, data) put is there exactly `once`, or at least once. */
async function assertDelivered(client: KinesisClient, stream: string, expected: Map<string, string>, mode: 'exactly-once' | 'at-least-once'): Promise<ReadRecord[]> {
  const { records } = await readAll(client, stream);
  const seen = new Map<string, number>();
  for (const r of records) {
    const id = r.data.toString();
    assert.equal(expected.get(id), r.partitionKey, `record ${id} came back with key ${r.partitionKey}`);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} records missing`);
  if (mode === 'exactly-once') {
    const dup = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(dup.slice(0, 10), [], `${dup.length} records duplicated`);
  }
  return records;
}

describe('producer against Eddy (throttling off)', () => {
  let eddy: Eddy;
  let client: KinesisClient;
  before(async () => {
    eddy = await startEddy({ throttle: false });
    client = kinesisClient(eddy.endpoint);
  });
  after(async () => {
    client.destroy();
    await eddy.close();
  });

  test('a producer that builds its own client (endpoint, region, credentials) delivers through one shared HTTP/2 session', async () => {
    const stream = uniqueName('own-client');
    await createStream(client, stream, 2);
    const producer = createProducer({
      streamName: stream,
      endpoint: eddy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      lingerMs: 5,
    });
    const expected = new Map<string, string>();
    const puts: Promise<PutResult>[] = [];
    for (let i = 0; i < 3000; i++) {
      const data = `own-${i}`;
      expected.set(data, `k${i % 31}`);
      puts.push(producer.put({ partitionKey: `k${i % 31}`, data }));
      // Several PutRecords calls, some of them concurrent.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(puts);
    await producer.close();
    await producer.close();
    assert.ok(results.every((r) => r.shardId.startsWith('shardId-') && /^\d+$/.test(r.sequenceNumber)));
    await assertDelivered(client, stream, expected, 'exactly-once');
    await deleteStream(client, stream);
  });

  for (const aggregation of [true, false]) {
    test(`10,000 records ${aggregation ? 'with' : 'without'} aggregation are all readable exactly once`, async () => {
      const stream = uniqueName('e2e');
      await createStream(client, stream, 4);
      const producer = createProducer({ streamName: stream, client, aggregation });
      const expected = new Map<string, string>();
      const puts: Promise<PutResult>[] = [];
      for (let i = 0; i < 10_000; i++) {
        const pk = `key-${i % 257}`;
        const data = `record-${i}-${'x'.repeat(i % 50)}`;
        expected.set(data, pk);
        puts.push(producer.put({ partitionKey: pk, data }));
      }
      const results = await Promise.all(puts);
      await producer.close();
      const m = producer.metrics();
      assert.equal(m.userRecordsPut, 10_000);
      assert.equal(m.failures, 0);
      assert.equal(m.inFlightBytes, 0);
      if (aggregation) {
        assert.ok(m.kinesisRecordsPut < 200, `aggregated into ${m.kinesisRecordsPut} Kinesis records`);
        assert.ok(results.every((r) => r.subSequenceNumber !== undefined));
      } else {
        assert.equal(m.kinesisRecordsPut, 10_000);
        assert.ok(results.every((r) => r.subSequenceNumber === undefined));
      }
      const read = await assertDelivered(client, stream, expected, 'exactly-once');
      // Each PutResult names where its record is.
      const byData = new Map(read.map((r) => [r.data.toString(), r]));
      let i = 0;
      for (const data of expected.keys()) {
        const res = results[i++] as PutResult;
        const r = byData.get(data) as ReadRecord;
        assert.equal(res.shardId, r.shardId);
        assert.equal(res.sequenceNumber, r.sequenceNumber);
        assert.equal(res.subSequenceNumber ?? 0, r.subSequenceNumber);
      }
      await deleteStream(client, stream);
    });
  }

  test('explicit hash keys route records (and aggregates) to their shard', async () => {
    const stream = uniqueName('ehk');
    await createStream(client, stream, 4);
    const shards = await listAllShards(client, stream);
    const producer = createProducer({ streamName: stream, client });
    const puts = shards.flatMap((s, i) =>
      Array.from({ length: 50 }, (_, j) => producer.put({ partitionKey: `same-key`, explicitHashKey: s.HashKeyRange?.StartingHashKey ?? '0', data: `${i}-${j}` }).then((r) => [s.ShardId, r] as const)),
    );
    for (const [shardId, r] of await Promise.all(puts)) assert.equal(r.shardId, shardId);
    await producer.close();
    await deleteStream(client, stream);
  });

  test('back-pressure: put waits while maxInFlightBytes are in flight', async () => {
    const stream = uniqueName('bp');
    await createStream(client, stream, 2);
    const limit = 64 * 1024;
    const producer = createProducer({ streamName: stream, client, maxInFlightBytes: limit, lingerMs: 5 });
    const expected = new Map<string, string>();
    const puts: Promise<PutResult>[] = [];
    let peak = 0;
    const data = 'y'.repeat(1000);
    for (let i = 0; i < 2000; i++) {
      const id = `${i}-${data}`;
      expected.set(id, `k${i % 10}`);
      puts.push(producer.put({ partitionKey: `k${i % 10}`, data: id }));
      peak = Math.max(peak, producer.metrics().inFlightBytes);
    }
    // 2 MB were put without awaiting; at most 64 KiB (one record's slack) is held by the producer.
    assert.ok(peak <= limit, `peak ${peak}`);
    const sampler = setInterval(() => {
      peak = Math.max(peak, producer.metrics().inFlightBytes);
    }, 1);
    await Promise.all(puts);
    clearInterval(sampler);
    assert.ok(peak <= limit, `peak ${peak}`);
    await producer.close();
    await assertDelivered(client, stream, expected, 'exactly-once');
    await deleteStream(client, stream);
  });

  test('close() flushes without waiting for the linger time and is idempotent', async () => {
    const stream = uniqueName('close');
    await createStream(client, stream, 1);
    const producer = createProducer({ streamName: stream, client, lingerMs: 60_000 });
    const puts = Array.from({ length: 100 }, (_, i) => producer.put({ partitionKey: 'k', data: `c${i}` }));
    const t0 = performance.now();
    const c1 = producer.close();
    const c2 = producer.close();
    assert.equal(c1, c2);
    await c1;
    assert.ok(performance.now() - t0 < 5_000);
    assert.equal((await Promise.all(puts)).length, 100);
    await producer.close();
    await assert.rejects(producer.put({ partitionKey: 'k', data: 'late' }), (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.CLOSED);
    await assertDelivered(client, stream, new Map(Array.from({ length: 100 }, (_, i) => [`c${i}`, 'k'])), 'exactly-once');
    await deleteStream(client, stream);
  });

  test('a full aggregate goes out without waiting for lingerMs', async () => {
    const stream = uniqueName('eager');
    await createStream(client, stream, 1);
    const producer = createProducer({ streamName: stream, client, lingerMs: 60_000 });
    const data = Buffer.alloc(1000, 1);
    // 60 records of 1 KB: the aggregate (51,200 bytes) is full after ~50; those go at once.
    const puts = Array.from({ length: 60 }, (_, i) => producer.put({ partitionKey: `k${i}`, data }));
    const first = await Promise.race([puts[0]?.then(() => 'stored'), new Promise((r) => setTimeout(() => r('waiting'), 5_000))]);
    assert.equal(first, 'stored');
    await producer.close();
    assert.equal((await Promise.all(puts)).length, 60);
    await deleteStream(client, stream);
  });

  test('flush() sends what is buffered and waits for it', async () => {
    const stream = uniqueName('flush');
    await createStream(client, stream, 1);
    const producer = createProducer({ streamName: stream, client, lingerMs: 60_000 });
    let settled = 0;
    for (let i = 0; i < 10; i++) void producer.put({ partitionKey: 'k', data: `f${i}` }).then(() => settled++);
    await producer.flush();
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, 10);
    await producer.flush(); // nothing pending
    await producer.close();
    await deleteStream(client, stream);
  });

  for (const aggregation of [true, false]) {
    test(`string data arrives as its UTF-8 bytes (${aggregation ? 'aggregated' : 'not aggregated'}; put and add)`, async () => {
      const stream = uniqueName('utf8');
      await createStream(client, stream, 2);
      const producer = createProducer({ streamName: stream, client, aggregation, lingerMs: 5, onFailure: (e) => assert.fail(e) });
      const texts = ['plain ascii', 'é and ü', '✓ check', '😀 emoji', 'mixed ascii, then 日本語 text, long enough to be written by Buffer#write and not the loop'];
      const expected = new Map<string, string>();
      const puts: Promise<PutResult>[] = [];
      for (let i = 0; i < 200; i++) {
        const data = `${texts[i % texts.length]} #${i}`;
        expected.set(data, `k${i % 7}`);
        if (i % 2 === 0) puts.push(producer.put({ partitionKey: `k${i % 7}`, data }));
        else producer.add({ partitionKey: `k${i % 7}`, data });
      }
      await Promise.all(puts);
      await producer.close();
      // A lone record (an aggregate of one goes raw) from a producer of its own.
      const lone = createProducer({ streamName: stream, client, aggregation });
      await lone.put({ partitionKey: 'solo', data: 'seul à bord ⛵' });
      await lone.close();
      expected.set('seul à bord ⛵', 'solo');
      const m = producer.metrics();
      assert.equal(m.userRecordsPut, 200);
      await assertDelivered(client, stream, expected, 'exactly-once');
      await deleteStream(client, stream);
    });
  }

  test('records routed while flush() waits still share aggregates (parked until the shard map came)', async () => {
    const stream = uniqueName('flush-agg');
    await createStream(client, stream, 2);
    const producer = createProducer({ streamName: stream, client });
    // Put before the shard map has loaded: every record is parked, then routed at once while the
    // flush waits. Sealing each as it was routed sent 2,000 Kinesis records.
    const puts = Array.from({ length: 2000 }, (_, i) => producer.put({ partitionKey: `k${i}`, data: `p${i}` }));
    await producer.flush();
    assert.equal((await Promise.all(puts)).length, 2000);
    const m = producer.metrics();
    assert.equal(m.userRecordsPut, 2000);
    assert.ok(m.kinesisRecordsPut <= 4, `${m.kinesisRecordsPut} Kinesis records for 2,000 small user records`);
    await producer.close();
    await assertDelivered(client, stream, new Map(Array.from({ length: 2000 }, (_, i) => [`p${i}`, `k${i}`])), 'exactly-once');
    await deleteStream(client, stream);
  });

  test('recordTtlMs: a stream that does not exist rejects puts with RECORD_EXPIRED naming the cause', async () => {
    const producer = createProducer({ streamName: uniqueName('missing'), client, recordTtlMs: 300, retry: { baseMs: 10, maxMs: 50 } });
    const t0 = performance.now();
    const err = await producer.put({ partitionKey: 'k', data: 'lost' }).then(
      () => assert.fail('put resolved'),
      (e: unknown) => e,
    );
    const elapsed = performance.now() - t0;
    assert.ok(err instanceof ProducerError);
    assert.equal(err.code, ProducerErrorCode.RECORD_EXPIRED);
    assert.match(err.message, /not stored within recordTtlMs \(300 ms\)/);
    assert.match(err.message, /ResourceNotFoundException/);
    assert.ok(elapsed >= 290 && elapsed < 3_000, `rejected after ${elapsed} ms`);
    assert.equal(producer.metrics().failures, 1);
    await producer.close();
  });

  test('an AbortSignal rejects pending puts with ABORTED', async () => {
    const stream = uniqueName('abort');
    await createStream(client, stream, 1);
    const ac = new AbortController();
    const producer = createProducer({ streamName: stream, client, lingerMs: 60_000, signal: ac.signal });
    const p = producer.put({ partitionKey: 'k', data: 'x' });
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.ABORTED);
    await assert.rejects(producer.put({ partitionKey: 'k', data: 'y' }), (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.ABORTED);
    await producer.close();
    await deleteStream(client, stream);
  });

  test('add(): records without promises are delivered, flush() waits for them, back-pressure says when to wait', async () => {
    const stream = uniqueName('add');
    await createStream(client, stream, 2);
    const limit = 64 * 1024;
    const failures: unknown[] = [];
    const producer = createProducer({ streamName: stream, client, maxInFlightBytes: limit, lingerMs: 5, onFailure: (e) => failures.push(e) });
    const expected = new Map<string, string>();
    const data = 'z'.repeat(1000);
    let waits = 0;
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      const id = `${i}-${data}`;
      expected.set(id, `k${i % 10}`);
      if (!producer.add({ partitionKey: `k${i % 10}`, data: id })) {
        waits++;
        peak = Math.max(peak, producer.metrics().inFlightBytes);
        await producer.ready();
      }
    }
    // 2 MB added: the producer held at most 64 KiB and asked the caller to wait on the way.
    assert.ok(waits > 0, 'add() never asked to wait');
    assert.ok(peak <= limit, `peak ${peak}`);
    await producer.flush();
    assert.equal(producer.metrics().inFlightBytes, 0);
    assert.equal(producer.metrics().userRecordsPut, 2000);
    await producer.ready(); // nothing waits: resolves at once
    await producer.close();
    assert.deepEqual(failures, []);
    await assertDelivered(client, stream, expected, 'exactly-once');
    await deleteStream(client, stream);
  });

  test('add(): failures go to onFailure with the record as given; misuse throws', async () => {
    const failed: [unknown, unknown][] = [];
    const onFailure = (e: ProducerError, r: unknown): void => {
      failed.push([e, r]);
    };
    const producer = createProducer({ streamName: uniqueName('missing'), client, recordTtlMs: 300, retry: { baseMs: 10, maxMs: 50 }, onFailure });
    const ehk = (1n << 100n).toString();
    assert.equal(producer.add({ partitionKey: 'k1', data: 'lost-1' }), true);
    assert.equal(producer.add({ partitionKey: 'k2', data: Buffer.from('lost-2'), explicitHashKey: ehk }), true);
    assert.throws(
      () => producer.add({ partitionKey: '', data: 'x' }),
      (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.INVALID_RECORD,
    );
    await producer.flush();
    assert.equal(failed.length, 2);
    const byKey = new Map(failed.map(([e, r]) => [(r as { partitionKey: string }).partitionKey, { e, r: r as { data: Buffer; explicitHashKey?: string } }]));
    for (const [key, data] of [['k1', 'lost-1'], ['k2', 'lost-2']] as const) {
      const f = byKey.get(key);
      assert.ok(f, key);
      assert.ok(f.e instanceof ProducerError && f.e.code === ProducerErrorCode.RECORD_EXPIRED, String(f.e));
      assert.match(f.e.message, /ResourceNotFoundException/);
      assert.equal(Buffer.from(f.r.data).toString(), data);
    }
    assert.equal(byKey.get('k2')?.r.explicitHashKey, ehk);
    assert.equal(byKey.get('k1')?.r.explicitHashKey, undefined);
    assert.equal(producer.metrics().failures, 2);
    await producer.close();
    assert.throws(
      () => producer.add({ partitionKey: 'k', data: 'late' }),
      (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.CLOSED,
    );

    // Without onFailure a failure would have nowhere to go.
    const plain = createProducer({ streamName: uniqueName('no-handler'), client });
    assert.throws(
      () => plain.add({ partitionKey: 'k', data: 'x' }),
      (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.INVALID_OPTION && /^onFailure:/.test(e.message),
    );
    await plain.close();
  });

  test('add(): records added without waiting for ready() are refused once maxInFlightBytes of them wait', async () => {
    const stream = uniqueName('add-full');
    await createStream(client, stream, 1);
    const failures: unknown[] = [];
    const producer = createProducer({ streamName: stream, client, lingerMs: 60_000, maxInFlightBytes: 20, onFailure: (e) => failures.push(e) });
    // Records of 9 bytes (8 of data, a 1-byte key): two in flight, two waiting, then no more.
    assert.equal(producer.add({ partitionKey: 'k', data: 'record-1' }), true);
    assert.equal(producer.add({ partitionKey: 'k', data: 'record-2' }), true);
    assert.equal(producer.add({ partitionKey: 'k', data: 'record-3' }), false);
    assert.equal(producer.add({ partitionKey: 'k', data: 'record-4' }), false);
    assert.throws(
      () => producer.add({ partitionKey: 'k', data: 'record-5' }),
      (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.BUFFER_FULL && e.retryable && /await ready\(\)/.test(e.message),
    );
    await producer.close();
    assert.deepEqual(failures, []);
    assert.equal(producer.metrics().userRecordsPut, 4);
    await assertDelivered(client, stream, new Map([1, 2, 3, 4].map((i) => [`record-${i}`, 'k'])), 'exactly-once');
    await deleteStream(client, stream);
  });

  test('add(): an AbortSignal fails buffered and waiting records through onFailure and wakes ready()', async () => {
    const stream = uniqueName('add-abort');
    await createStream(client, stream, 1);
    const ac = new AbortController();
    const codes: string[] = [];
    const producer = createProducer({
      streamName: stream,
      client,
      lingerMs: 60_000,
      maxInFlightBytes: 10,
      signal: ac.signal,
      onFailure: (e) => codes.push(e.code),
    });
    assert.equal(producer.add({ partitionKey: 'k', data: 'buffered' }), true);
    assert.equal(producer.add({ partitionKey: 'k', data: 'waiting' }), false);
    const ready = producer.ready();
    ac.abort();
    await ready;
    assert.deepEqual(codes.sort(), [ProducerErrorCode.ABORTED, ProducerErrorCode.ABORTED]);
    assert.throws(
      () => producer.add({ partitionKey: 'k', data: 'late' }),
      (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.ABORTED,
    );
    await producer.close();
    await deleteStream(client, stream);
  });

  test('resharding mid-run: everything is delivered and aggregates land on the right shards', async (t) => {
    const stream = uniqueName('reshard');
    await createStream(client, stream, 2);
    const producer = createProducer({ streamName: stream, client, lingerMs: 20 });
    const expected = new Map<string, string>();
    const results: [string, Promise<PutResult>][] = [];
    const total = 20_000;
    let split: Promise<unknown> | undefined;
    for (let i = 0; i < total; i++) {
      const pk = `key-${i}`;
      const data = `r${i}`;
      expected.set(data, pk);
      results.push([pk, producer.put({ partitionKey: pk, data })]);
      if (i % 500 === 499) await new Promise((r) => setTimeout(r, 2));
      if (i === total / 2) {
        const [s0] = await listAllShards(client, stream);
        const start = BigInt(s0?.HashKeyRange?.StartingHashKey ?? '0');
        const end = BigInt(s0?.HashKeyRange?.EndingHashKey ?? '0');
        split = client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: s0?.ShardId, NewStartingHashKey: ((start + end) / 2n).toString() }));
      }
    }
    await split;
    const shards = new Map((await listAllShards(client, stream)).map((s) => [s.ShardId, s]));
    assert.equal(shards.size, 4);
    for (const [pk, p] of results) {
      const r = await p;
      const s = shards.get(r.shardId);
      const h = effectiveHashKey(pk);
      assert.ok(s && h >= BigInt(s.HashKeyRange?.StartingHashKey ?? '') && h <= BigInt(s.HashKeyRange?.EndingHashKey ?? ''), `${pk} reported on ${r.shardId}, outside its range`);
    }
    await producer.close();
    // KCL semantics: a misplaced aggregate is dropped by its reader, so its records must have been sent again.
    const read = await assertDelivered(client, stream, expected, 'at-least-once');
    const m = producer.metrics();
    t.diagnostic(`${m.kinesisRecordsPut} Kinesis records, ${m.retries} user-record retries, ${read.length} user records read (${(await readAll(client, stream)).misplaced} aggregates dropped as misplaced)`);
    const children = [...shards.values()].filter((s) => s.ParentShardId).map((s) => s.ShardId);
    assert.ok(read.some((r) => children.includes(r.shardId)), 'records reached the children');
    await deleteStream(client, stream);
  });
});

describe('producer against Eddy (throttling on)', () => {
  let eddy: Eddy;
  let client: KinesisClient;
  before(async () => {
    eddy = await startEddy({ throttle: true });
    client = kinesisClient(eddy.endpoint);
  });
  after(async () => {
    client.destroy();
    await eddy.close();
  });

  test('a burst over the shard limit is delivered through retries, and throttles are counted', async () => {
    const stream = uniqueName('throttle');
    await createStream(client, stream, 1);
    // Shaping off so that the burst reaches the server's 1,000 records/s limit.
    const producer = createProducer({ streamName: stream, client, aggregation: false, rateLimitPercent: Infinity, retry: { baseMs: 50, maxMs: 500 } });
    const expected = new Map<string, string>();
    const puts: Promise<PutResult>[] = [];
    for (let i = 0; i < 1800; i++) {
      expected.set(`t${i}`, `k${i % 7}`);
      puts.push(producer.put({ partitionKey: `k${i % 7}`, data: `t${i}` }));
    }
    const results = await Promise.all(puts);
    await producer.close();
    const m = producer.metrics();
    assert.ok(m.throttles > 0, 'throttled');
    assert.ok(m.retries > 0, 'retried');
    assert.equal(m.userRecordsPut, 1800);
    assert.ok(results.some((r) => r.attempts > 1));
    await assertDelivered(client, stream, expected, 'exactly-once');
    await deleteStream(client, stream);
  });

  test('add(): a burst over the shard limit is delivered through retries, nothing fails', async () => {
    const stream = uniqueName('throttle-add');
    await createStream(client, stream, 1);
    const failures: unknown[] = [];
    const producer = createProducer({
      streamName: stream,
      client,
      aggregation: false,
      rateLimitPercent: Infinity,
      retry: { baseMs: 50, maxMs: 500 },
      onFailure: (e) => failures.push(e),
    });
    const expected = new Map<string, string>();
    for (let i = 0; i < 1800; i++) {
      expected.set(`a${i}`, `k${i % 7}`);
      assert.equal(producer.add({ partitionKey: `k${i % 7}`, data: `a${i}` }), true);
    }
    await producer.close();
    const m = producer.metrics();
    assert.ok(m.throttles > 0 && m.retries > 0, `throttles ${m.throttles}, retries ${m.retries}`);
    assert.equal(m.userRecordsPut, 1800);
    assert.deepEqual(failures, []);
    await assertDelivered(client, stream, expected, 'exactly-once');
    await deleteStream(client, stream);
  });

  test('the default shaping (150%) keeps going under the limit with few throttles', async () => {
    const stream = uniqueName('shaped');
    await createStream(client, stream, 2);
    const producer = createProducer({ streamName: stream, client, aggregation: false, retry: { baseMs: 50, maxMs: 500 } });
    const puts = Array.from({ length: 2500 }, (_, i) => producer.put({ partitionKey: `k${i}`, data: `s${i}` }));
    await Promise.all(puts);
    await producer.close();
    assert.equal(producer.metrics().userRecordsPut, 2500);
    await deleteStream(client, stream);
  });

  test('per-shard shaping holds the rate under rateLimitPercent without throttles', async () => {
    const stream = uniqueName('shaping');
    await createStream(client, stream, 1);
    // 10% of a shard: 100 records/s, a bucket of 100. 150 records take about half a second.
    const producer = createProducer({ streamName: stream, client, aggregation: false, rateLimitPercent: 10, lingerMs: 1 });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 150 }, (_, i) => producer.put({ partitionKey: `k${i}`, data: 'x' })));
    const elapsed = performance.now() - t0;
    await producer.close();
    assert.ok(elapsed >= 400, `150 records in ${elapsed.toFixed(0)} ms`);
    assert.equal(producer.metrics().throttles, 0);
    await deleteStream(client, stream);
  });

  test('ordered mode keeps per-key order through throttling and retries', async () => {
    const stream = uniqueName('ordered');
    await createStream(client, stream, 1);
    for (const aggregation of [false, true]) {
      const producer: Producer = createProducer({ streamName: stream, client, ordered: true, aggregation, rateLimitPercent: Infinity, retry: { baseMs: 20, maxMs: 200 } });
      // Many keys, so that even one record per key per call bursts over 1,000 records/s.
      const keys = 250;
      const perKey = 10;
      const byKey = new Map<string, Promise<PutResult>[]>();
      for (let j = 0; j < perKey; j++) {
        for (let k = 0; k < keys; k++) {
          const pk = `${aggregation}-key-${k}`;
          if (!byKey.has(pk)) byKey.set(pk, []);
          byKey.get(pk)?.push(producer.put({ partitionKey: pk, data: `${pk}/${j}/${'z'.repeat(400)}` }));
        }
      }
      for (const [pk, puts] of byKey) {
        const rs = await Promise.all(puts);
        for (let j = 1; j < rs.length; j++) {
          const a = rs[j - 1] as PutResult;
          const b = rs[j] as PutResult;
          assert.equal(a.shardId, b.shardId);
          const cmp = BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) || (a.sequenceNumber === b.sequenceNumber && (a.subSequenceNumber ?? 0) < (b.subSequenceNumber ?? 0));
          assert.ok(cmp, `${pk}: record ${j} stored before record ${j - 1}`);
        }
      }
      await producer.close();
      if (!aggregation) assert.ok(producer.metrics().throttles > 0, 'the test exercised throttling');
    }
    // And as read back: per key, in put order.
    const { records } = await readAll(client, stream);
    const last = new Map<string, number>();
    for (const r of records) {
      const [pk, j] = r.data.toString().split('/') as [string, string];
      assert.ok((last.get(pk) ?? -1) < Number(j), `${pk}: ${j} read after ${last.get(pk)}`);
      last.set(pk, Number(j));
    }
    await deleteStream(client, stream);
  });
});

describe('validation', () => {
  const base = { streamName: 's', endpoint: 'http://127.0.0.1:1', region: 'us-east-1' };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no stream', { endpoint: base.endpoint }, /^streamName: give exactly one/],
    ['both stream forms', { ...base, streamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/s' }, /^streamName: give exactly one/],
    ['bad stream name', { ...base, streamName: 'a b' }, /^streamName:/],
    ['bad ARN', { streamARN: 'nope' }, /^streamARN:/],
    ['client and endpoint', { ...base, client: kinesisClient('http://127.0.0.1:1') }, /^region: give either client/],
    ['bad endpoint', { ...base, endpoint: 'not a url' }, /^endpoint:/],
    ['lingerMs', { ...base, lingerMs: -1 }, /^lingerMs: must be an integer/],
    ['maxBatchRecords', { ...base, maxBatchRecords: 501 }, /^maxBatchRecords:/],
    ['maxBatchBytes', { ...base, maxBatchBytes: 11 * 1024 * 1024 }, /^maxBatchBytes:/],
    ['aggregation.maxBytes', { ...base, aggregation: { maxBytes: 10 } }, /^aggregation\.maxBytes:/],
    ['aggregation', { ...base, aggregation: 'yes' }, /^aggregation:/],
    ['rateLimitPercent', { ...base, rateLimitPercent: 0 }, /^rateLimitPercent:/],
    ['recordTtlMs', { ...base, recordTtlMs: 1.5 }, /^recordTtlMs:/],
    ['maxInFlightBytes', { ...base, maxInFlightBytes: 0 }, /^maxInFlightBytes:/],
    ['ordered', { ...base, ordered: 1 }, /^ordered:/],
    ['retry.maxMs', { ...base, retry: { baseMs: 100, maxMs: 10 } }, /^retry\.maxMs:/],
    ['signal', { ...base, signal: {} }, /^signal:/],
    ['onFailure', { ...base, onFailure: 'log' }, /^onFailure:/],
  ];
  for (const [name, options, message] of cases) {
    test(`options: ${name}`, () => {
      assert.throws(
        () => createProducer(options as never),
        (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.INVALID_OPTION && message.test(e.message),
      );
    });
  }

  test('records', async () => {
    const producer = createProducer({ ...base, recordTtlMs: 50 });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ partitionKey: '', data: 'x' }, /^partitionKey:/],
      [{ partitionKey: 'k'.repeat(257), data: 'x' }, /^partitionKey:/],
      [{ partitionKey: 'k', data: 42 }, /^data:/],
      [{ partitionKey: 'k', data: Buffer.alloc(1024 * 1024) }, /^data: record of 1048577 bytes/],
      [{ partitionKey: 'k', data: 'x', explicitHashKey: '-1' }, /^explicitHashKey:/],
      [{ partitionKey: 'k', data: 'x', explicitHashKey: (1n << 128n).toString() }, /^explicitHashKey:/],
    ];
    for (const [rec, message] of bad) {
      await assert.rejects(producer.put(rec as never), (e: unknown) => e instanceof ProducerError && e.code === ProducerErrorCode.INVALID_RECORD && message.test(e.message));
    }
    await producer.close();
  });
});
