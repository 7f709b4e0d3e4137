// Nothing leaks: after 1,000 subscribe/disconnect cycles, open handles, HTTP/2 sessions and
// sockets, live subscriptions, shard listeners and memory are back to where they started.
// The 5-second rule applies per consumer and shard, so each round subscribes once to each of 10
// shards and the manual clock moves 5 s between rounds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { StreamsService } from '../../src/streams/service.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { rawSubscribeH1, rawSubscribeH2, shardId, streamWithConsumers, Subscriber, waitFor } from './fan-out-support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

function memory() {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

/** Open resources by type (TCPSocketWrap, Timeout, ...). */
function resources(): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) out.set(r, (out.get(r) ?? 0) + 1);
  return out;
}

function listenerCount(svc: StreamsService): number {
  let n = 0;
  for (const st of svc.allStreams()) for (const rt of st.shards.values()) n += rt.listeners.size;
  return n;
}

const SHARDS = 10;

describe('fan-out leaks nothing', () => {
  let t: TestServer;
  let k: KinesisClient;
  before(async () => {
    t = await startTestServer({ manualClock: true, options: { heartbeatMs: 60_000 } });
    k = t.kinesis;
  });
  after(() => t.close());

  it('returns to its baseline after 1,000 subscribe/disconnect cycles', async (ctx) => {
    const { StreamName, ConsumerARN } = await streamWithConsumers(k, SHARDS);
    // A record on every shard, so that each subscription has an event to send at once.
    const r = await k.send(new PutRecordsCommand({ StreamName, Records: Array.from({ length: 100 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`r${i}`) })) }));
    assert.equal(new Set(r.Records!.map((x) => x.ShardId)).size, SHARDS);
    const body = (s: number) => Buffer.from(JSON.stringify({ ConsumerARN, ShardId: shardId(s), StartingPosition: { Type: 'TRIM_HORIZON' } }));

    /**
     * One cycle: subscribe to a shard, take the first event, go away. Most go through the SDK
     * (abort mid-stream, over h2c and HTTP/1.1); some clients destroy their socket under an open
     * HTTP/2 or HTTP/1.1 stream.
     */
    const cycle = async (round: number, s: number): Promise<void> => {
      const kind = (round * SHARDS + s) % 10;
      if (kind === 8) {
        const raw = await rawSubscribeH2(t.eddy.endpoint, body(s));
        await raw.waitMessages(2);
        raw.socket.destroy();
        return;
      }
      if (kind === 9) {
        const raw = await rawSubscribeH1(t.eddy.endpoint, body(s));
        await raw.waitMessages(2);
        raw.req.socket!.destroy();
        return;
      }
      const sub = await Subscriber.open(kind < 6 ? k : t.kinesis1, ConsumerARN, shardId(s), { Type: 'TRIM_HORIZON' });
      await sub.until((x) => x.records.length > 0, 'the first event');
      sub.abort();
      await sub.done;
    };
    const round = async (n: number) => {
      await Promise.all(Array.from({ length: SHARDS }, (_, s) => cycle(n, s)));
      t.clock!.advance(5_000);
    };
    const quiet = async () => {
      await waitFor(() => t.eddy.streams.subscriptions.size === 0 && listenerCount(t.eddy.streams) === 0, 'subscriptions to end');
    };

    // Warm up (module loading, JIT, pools), then take the baseline.
    const WARM_UP = 10;
    for (let n = 0; n < WARM_UP; n++) await round(n);
    await quiet();
    await waitFor(() => t.eddy.listener.connections() === 0, 'warm-up connections to close');
    const baseResources = resources();
    const base = memory();

    const started = Date.now();
    const ROUNDS = 100;
    let mid = base;
    for (let n = 0; n < ROUNDS; n++) {
      await round(WARM_UP + n);
      if (n === ROUNDS / 2 - 1) {
        await quiet();
        mid = memory();
      }
    }
    const elapsed = Date.now() - started;

    await quiet();
    // Sockets close a little after their last stream: wait for them, then compare.
    await waitFor(() => t.eddy.listener.connections() === 0, 'every connection to close');
    await waitFor(() => {
      const now = resources();
      return [...now].every(([type, n]) => n <= (baseResources.get(type) ?? 0));
    }, `open resources back to ${JSON.stringify([...baseResources])}, have ${JSON.stringify([...resources()])}`);
    const end = memory();
    const mib = (n: number) => `${n >= 0 ? '+' : ''}${(n / MiB).toFixed(2)} MiB`;
    ctx.diagnostic(
      `${ROUNDS * SHARDS} cycles in ${elapsed} ms; heap ${mib(mid.heap - base.heap)} after the first half, ${mib(end.heap - mid.heap)} in the second; ` +
        `external ${mib(end.external - base.external)}`,
    );
    // The heap settles (compiled code, inline caches) over the first cycles; what a leak adds grows
    // with every cycle, so the second 500 must add next to nothing: 2 KiB a cycle would be 1 MiB.
    assert.ok(end.heap - mid.heap < 1 * MiB, `heap grew by ${mib(end.heap - mid.heap)} over the last 500 cycles`);
    assert.ok(end.heap - base.heap < 4 * MiB, `heap grew by ${mib(end.heap - base.heap)} over 1,000 cycles`);
    assert.ok(end.external - base.external < 1 * MiB, `external memory grew by ${mib(end.external - base.external)}`);
    assert.equal(t.eddy.streams.subscriptions.size, 0);
    assert.equal(listenerCount(t.eddy.streams), 0);
  });
});
