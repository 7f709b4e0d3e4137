// SubscribeToShard under load: many subscriptions at once, clients that vanish, a reader slower
// than the writer (memory stays bounded), resharding while subscribed, and each consumer's own
// 2 MiB/s per shard (checklist 1.3).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type KinesisClient,
  MergeShardsCommand,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
  SplitShardCommand,
  type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import type { StreamsService } from '../../src/streams/service.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { json, rawSubscribeH1, rawSubscribeH2, shardId, streamWithConsumers, Subscriber, waitFor } from './fan-out-support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live JS memory (heap and buffers) and anonymous RSS, after a full collection. */
function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  const anon = Number(/^RssAnon:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;
  return { js: m.heapUsed + m.external, anon };
}
const MiB = 1024 * 1024;

/** Every shard runtime's listener count (SubscribeToShard registers one per subscription). */
function listenerCount(svc: StreamsService): number {
  let n = 0;
  for (const st of svc.allStreams()) for (const rt of st.shards.values()) n += rt.listeners.size;
  return n;
}

const subscriptionBody = (ConsumerARN: string, ShardId = shardId(0), Type = 'TRIM_HORIZON') =>
  Buffer.from(JSON.stringify({ ConsumerARN, ShardId, StartingPosition: { Type } }));

describe('fan-out under load', () => {
  let t: TestServer;
  let k: KinesisClient;
  before(async () => {
    t = await startTestServer({ options: { heartbeatMs: 60_000 } });
    k = t.kinesis;
  });
  after(() => t.close());

  it('delivers every record, in order, to 4 consumers on each of 4 shards at once', async () => {
    const consumers = ['c0', 'c1', 'c2', 'c3'];
    const { StreamName, ConsumerARNs } = await streamWithConsumers(k, 4, consumers);
    const subs = await Promise.all(ConsumerARNs.flatMap((arn) => [0, 1, 2, 3].map((s) => Subscriber.open(k, arn, shardId(s), { Type: 'TRIM_HORIZON' }))));
    const expected = new Map<string, string[]>();
    let total = 0;
    for (let batch = 0; batch < 20; batch++) {
      const Records: PutRecordsRequestEntry[] = Array.from({ length: 100 }, (_, i) => ({ PartitionKey: `key-${i % 37}`, Data: Buffer.from(`${batch}/${i}`) }));
      const r = await k.send(new PutRecordsCommand({ StreamName, Records }));
      assert.equal(r.FailedRecordCount ?? 0, 0);
      for (const x of r.Records!) expected.set(x.ShardId!, [...(expected.get(x.ShardId!) ?? []), x.SequenceNumber!]);
      total += Records.length;
    }
    assert.equal(expected.size, 4, 'the keys cover every shard');
    await Promise.all(subs.map((s, i) => s.until((x) => x.records.length >= expected.get(shardId(i % 4))!.length, `all records on subscription ${i}`, 20_000)));
    for (let i = 0; i < subs.length; i++) {
      assert.deepEqual(subs[i]!.records.map((r) => r.SequenceNumber), expected.get(shardId(i % 4)), `consumer ${consumers[Math.floor(i / 4)]} shard ${i % 4}`);
    }
    assert.equal(subs.reduce((n, s) => n + s.records.length, 0), 4 * total);
    for (const s of subs) s.abort();
    await Promise.all(subs.map((s) => s.done));
    await waitFor(() => t.eddy.streams.subscriptions.size === 0, 'every subscription to end');
  });

  it('frees the subscription of a client that vanishes (HTTP/2 socket destroyed)', async () => {
    const { ConsumerARN } = await streamWithConsumers(k);
    const sub = await rawSubscribeH2(t.eddy.endpoint, subscriptionBody(ConsumerARN));
    await sub.waitMessages(1);
    assert.equal(t.eddy.streams.subscriptions.size, 1);
    assert.equal(listenerCount(t.eddy.streams), 1);
    try {
      sub.socket.destroy();
      await waitFor(() => t.eddy.streams.subscriptions.size === 0 && listenerCount(t.eddy.streams) === 0, 'the subscription to be freed');
    } finally {
      sub.close();
    }
  });

  it('frees the subscription of a client that vanishes (HTTP/1.1 socket destroyed)', async () => {
    const { ConsumerARN } = await streamWithConsumers(k);
    const sub = await rawSubscribeH1(t.eddy.endpoint, subscriptionBody(ConsumerARN));
    await sub.waitMessages(1);
    assert.equal(t.eddy.streams.subscriptions.size, 1);
    try {
      sub.req.socket!.destroy();
      await waitFor(() => t.eddy.streams.subscriptions.size === 0 && listenerCount(t.eddy.streams) === 0, 'the subscription to be freed');
    } finally {
      sub.close();
    }
  });

  it('frees the subscription of an SDK client that aborts mid-stream', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(k);
    const s = await Subscriber.open(k, ConsumerARN, shardId(0), { Type: 'LATEST' });
    await k.send(new PutRecordsCommand({ StreamName, Records: [{ PartitionKey: 'p', Data: Buffer.from('x') }] }));
    await s.until((x) => x.records.length === 1, 'a record');
    s.abort();
    await s.done;
    await waitFor(() => t.eddy.streams.subscriptions.size === 0 && listenerCount(t.eddy.streams) === 0, 'the subscription to be freed');
  });

  it('frees the subscriptions of clients that leave before the response', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `early${i}`);
    const { ConsumerARNs } = await streamWithConsumers(k, 5, names);
    const sockets: net.Socket[] = [];
    for (const arn of ConsumerARNs) {
      for (let s = 0; s < 5; s++) {
        const socket = net.connect({ host: '127.0.0.1', port: t.eddy.port });
        const session = http2.connect(t.eddy.endpoint, { createConnection: () => socket });
        session.on('error', () => undefined);
        const req = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.SubscribeToShard' });
        req.on('error', () => undefined);
        req.end(subscriptionBody(arn, shardId(s)));
        // Gone a little later each time: some before the request is read, some once it is answered.
        setTimeout(() => socket.destroy(), sockets.length % 7);
        sockets.push(socket);
      }
    }
    await waitFor(() => sockets.every((s) => s.destroyed), 'the clients to leave');
    await waitFor(() => t.eddy.streams.subscriptions.size === 0 && listenerCount(t.eddy.streams) === 0, 'every subscription to be freed');
  });

  it('frees a subscription stuck on back-pressure when its client vanishes', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(k);
    const sub = await rawSubscribeH2(t.eddy.endpoint, subscriptionBody(ConsumerARN));
    await sub.waitMessages(1);
    sub.stream.pause();
    const data = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 4; i++) {
      await k.send(new PutRecordsCommand({ StreamName, Records: Array.from({ length: 8 }, () => ({ PartitionKey: 'p', Data: data })) }));
    }
    try {
      sub.socket.destroy();
      await waitFor(() => t.eddy.streams.subscriptions.size === 0 && listenerCount(t.eddy.streams) === 0, 'the subscription to be freed');
    } finally {
      sub.close();
    }
  });

  it('keeps a subscription across a split and a merge: parents before children, no gap or duplicate per key', async () => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(k, 2);
    // A KCL-style reader: each shard to its end, then the children whose parents have all ended.
    const received = new Map<string, number[]>();
    const ended = new Set<string>();
    const started = new Set<string>();
    const parentsOf = new Map<string, string[]>();
    const subs: Subscriber[] = [];
    const start = async (sid: string) => {
      started.add(sid);
      const s = await Subscriber.open(k, ConsumerARN, sid, { Type: 'TRIM_HORIZON' }, (e: SubscribeToShardEvent) => {
        for (const r of e.Records ?? []) {
          const [key, n] = Buffer.from(r.Data!).toString().split(':') as [string, string];
          received.set(key, [...(received.get(key) ?? []), Number(n)]);
        }
        if (e.ChildShards?.length) {
          ended.add(sid);
          for (const c of e.ChildShards) parentsOf.set(c.ShardId!, c.ParentShards!);
          for (const [child, parents] of parentsOf) {
            if (!started.has(child) && parents.every((p) => ended.has(p))) void start(child);
          }
        }
        return false;
      });
      subs.push(s);
    };
    await start(shardId(0));
    await start(shardId(1));

    const KEYS = 24;
    let batches = 0;
    const produce = async (n: number) => {
      for (let i = 0; i < n; i++, batches++) {
        const Records = Array.from({ length: KEYS }, (_, key) => ({ PartitionKey: `key${key}`, Data: Buffer.from(`key${key}:${batches}`) }));
        const r = await k.send(new PutRecordsCommand({ StreamName, Records }));
        assert.equal(r.FailedRecordCount ?? 0, 0);
      }
    };
    // Writes keep going while the shards change under them.
    const during = produce(60);
    await new Promise((r) => setTimeout(r, 20));
    await k.send(new SplitShardCommand({ StreamName, ShardToSplit: shardId(0), NewStartingHashKey: (1n << 126n).toString() }));
    await new Promise((r) => setTimeout(r, 20));
    // shardId-3 is the upper half of the old shard 0, adjacent to shard 1.
    await k.send(new MergeShardsCommand({ StreamName, ShardToMerge: shardId(3), AdjacentShardToMerge: shardId(1) }));
    await during;
    await produce(10);
    const total = batches * KEYS;
    const count = () => [...received.values()].reduce((n, v) => n + v.length, 0);
    await waitFor(() => count() >= total, `${total} records (have ${count()})`, 20_000);
    assert.deepEqual([...started].sort(), [0, 1, 2, 3, 4].map(shardId));
    assert.deepEqual([...ended].sort(), [0, 1, 3].map(shardId));
    for (let key = 0; key < KEYS; key++) {
      assert.deepEqual(received.get(`key${key}`), Array.from({ length: batches }, (_, i) => i), `key${key} in order, once each`);
    }
    for (const s of subs) s.abort();
    await Promise.all(subs.map((s) => s.done));
    for (const s of subs) assert.equal(s.error, undefined);
  });
});

describe('fan-out with a slow reader (disk storage)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ disk: true, options: { heartbeatMs: 60_000 } });
  });
  after(() => t.close());

  it('holds memory bounded while 50 MB are written past a reader that barely reads', async (ctx) => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(t.kinesis);
    // A small HTTP/2 window, and a reader that takes one chunk now and then.
    const sub = await rawSubscribeH2(t.eddy.endpoint, subscriptionBody(ConsumerARN), undefined, { initialWindowSize: 65_535 });
    await sub.waitMessages(1);
    sub.stream.pause();
    const server = () => [...t.eddy.streams.subscriptions.values()][0] as unknown as { position: bigint };
    const base = memory();
    let peak = base;
    const T0 = Date.now();
    // The writer sends one prepared PutRecords body (10 records of 100 KiB) again and again over
    // one HTTP/2 session: the server does all the work of a write, the test allocates nothing.
    const data = Buffer.alloc(100 * 1024, 0x61);
    const body = Buffer.from(JSON.stringify({ StreamName, Records: Array.from({ length: 10 }, (_, i) => ({ PartitionKey: `p${i}`, Data: data.toString('base64') })) }));
    const writer = http2.connect(t.eddy.endpoint);
    const putBatch = async () => {
      const req = writer.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecords' });
      req.end(body);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      await once(req, 'end');
      assert.equal((JSON.parse(Buffer.concat(chunks).toString()) as { FailedRecordCount: number }).FailedRecordCount, 0);
    };
    let written = 0;
    let records = 0;
    let taken = 0;
    // What the reader got: checked for order as it comes, then dropped, so that the test holds no
    // more than the server does.
    let got = 0;
    let lastSeq = 0n;
    const take = () => {
      for (const m of sub.messages) {
        for (const r of (json(m) as { Records?: { SequenceNumber: string }[] }).Records ?? []) {
          const seq = BigInt(r.SequenceNumber);
          assert.ok(seq > lastSeq);
          lastSeq = seq;
          got++;
        }
      }
      sub.chunks.length = 0;
      sub.messages.length = 0;
    };
    take();
    while (written < 50 * MiB) {
      await putBatch();
      written += 10 * data.length;
      records += 10;
      // Read a little: one chunk, dropped once read so that only the server's memory is measured.
      sub.stream.resume();
      await new Promise((r) => sub.stream.once('data', r));
      sub.stream.pause();
      taken += sub.messages.length;
      take();
      if (records % 40 === 0) {
        const m = memory();
        peak = { js: Math.max(peak.js, m.js), anon: Math.max(peak.anon, m.anon) };
      }
    }
    writer.close();
    const m = memory();
    peak = { js: Math.max(peak.js, m.js), anon: Math.max(peak.anon, m.anon) };
    // The server read ahead of what the reader took by a couple of events (one being sent, one
    // waiting to be), not by the backlog: events of ~1 MiB carry 11 records of 100 KiB here.
    const readByServer = Number(server().position) - 1;
    const grewJs = (peak.js - base.js) / MiB;
    const grewAnon = (peak.anon - base.anon) / MiB;
    ctx.diagnostic(
      `wrote ${(written / MiB).toFixed(0)} MiB in ${records} records; reader took ${taken} events, server read ${readByServer} records; ` +
        `at peak JS heap+buffers +${grewJs.toFixed(1)} MiB, RssAnon +${grewAnon.toFixed(1)} MiB (the writer's transient buffers included)`,
    );
    assert.ok(readByServer <= (taken + 2) * 11, `server read ${readByServer} of ${records} records for a reader that took ${taken} events`);
    // Buffering the backlog would hold more than the 50 MB written (more again as base64 JSON);
    // event frames are Buffers, so they would show in external memory.
    assert.ok(grewJs < 16, `JS heap + buffers grew by ${grewJs.toFixed(1)} MiB`);
    // RSS also counts the allocator's high-water mark from the writer's 1 MiB request bodies, which
    // the writer alone drives to +50..75 MiB here, so its bound only rules out holding the backlog.
    assert.ok(grewAnon < 120, `anonymous RSS grew by ${grewAnon.toFixed(1)} MiB`);

    ctx.diagnostic(`slow phase ${Date.now() - T0} ms`);
    const T1 = Date.now();
    // Now read at full speed: everything arrives, in order, once.
    sub.stream.on('data', take);
    sub.stream.resume();
    await waitFor(() => got >= records, `all ${records} records`, 60_000);
    ctx.diagnostic(`fast phase ${Date.now() - T1} ms`);
    assert.equal(got, records);
    sub.close();
    await waitFor(() => t.eddy.streams.subscriptions.size === 0, 'the subscription to end');
  });
});

describe('fan-out throughput per consumer (throttling on, manual clock)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { throttle: true, heartbeatMs: 60_000 } });
  });
  after(() => t.close());

  it('gives each consumer its own 2 MiB/s on a shard', async () => {
    const k = t.kinesis;
    const { StreamName, ConsumerARNs } = await streamWithConsumers(k, 1, ['a', 'b']);
    // 60 records of 100 KiB: ~6 MiB, written at the shard's 1 MiB/s write limit.
    const data = Buffer.alloc(100 * 1024, 0x62);
    for (let i = 0; i < 6; i++) {
      const r = await k.send(new PutRecordsCommand({ StreamName, Records: Array.from({ length: 10 }, () => ({ PartitionKey: 'p', Data: data })) }));
      assert.equal(r.FailedRecordCount ?? 0, 0);
      t.clock!.advance(1000);
    }
    const [a, b] = await Promise.all(ConsumerARNs.map((arn) => Subscriber.open(k, arn, shardId(0), { Type: 'TRIM_HORIZON' })));
    const bytes = (s: Subscriber) => s.records.reduce((n, r) => n + r.Data!.length + r.PartitionKey!.length, 0);
    // Each gets its own burst of 2 MiB (charged per event of about 1 MiB, so up to one event over),
    // then waits for the clock; a shared budget would give them 2 MiB between them.
    const settle = async (mib: number) => {
      await Promise.all([a!, b!].map((s) => s.until((x) => bytes(x) >= mib * MiB, `${mib} MiB`)));
      await new Promise((r) => setTimeout(r, 300));
    };
    await settle(2);
    for (const s of [a!, b!]) assert.ok(bytes(s) >= 2 * MiB && bytes(s) < 3.2 * MiB, `first second: ${(bytes(s) / MiB).toFixed(2)} MiB`);
    const firstSecond = [bytes(a!), bytes(b!)];
    t.clock!.advance(1000);
    await settle(firstSecond[0]! / MiB + 1.5);
    for (const s of [a!, b!]) assert.ok(bytes(s) >= 4 * MiB && bytes(s) < 5.2 * MiB, `two seconds: ${(bytes(s) / MiB).toFixed(2)} MiB`);
    t.clock!.advance(2000);
    await Promise.all([a!, b!].map((s) => s.until((x) => x.records.length === 60, 'every record')));
    a!.abort();
    b!.abort();
  });
});

describe('fan-out: a client that stops reading', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { heartbeatMs: 60_000, stalledStreamMs: 300 } });
  });
  after(() => t.close());

  it('has its stream reset once its subscription is taken over and it still does not read', async () => {
    const k = t.kinesis;
    const { StreamName, ConsumerARN } = await streamWithConsumers(k);
    const old = await rawSubscribeH2(t.eddy.endpoint, subscriptionBody(ConsumerARN));
    await old.waitMessages(1);
    old.stream.pause();
    // More than the HTTP/2 window and the server's buffer: the server is left waiting on the client.
    const data = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 4; i++) {
      await k.send(new PutRecordsCommand({ StreamName, Records: Array.from({ length: 4 }, () => ({ PartitionKey: 'p', Data: data })) }));
    }
    let closed = false;
    old.stream.once('close', () => (closed = true));
    try {
      // Five seconds later a new subscription takes over: the old one has ended, with events left unread.
      t.clock!.advance(5_001);
      const next = await rawSubscribeH2(t.eddy.endpoint, subscriptionBody(ConsumerARN, shardId(0), 'LATEST'));
      try {
        assert.equal(next.status, 200);
        await waitFor(() => closed, 'the old stream to be closed');
        assert.notEqual(old.stream.rstCode, 0, 'reset by the server, not ended');
        await waitFor(() => t.eddy.streams.subscriptions.size === 1, 'only the new subscription to be live');
        // The new one is unaffected and gets what comes next.
        await k.send(new PutRecordsCommand({ StreamName, Records: [{ PartitionKey: 'p', Data: Buffer.from('after') }] }));
        await waitFor(() => next.messages.some((m) => ((json(m) as { Records?: unknown[] }).Records ?? []).length > 0), 'the new subscription to get the record');
      } finally {
        next.close();
      }
    } finally {
      old.close();
    }
  });
});
