// KPL-aggregated records: deaggregated for the processor, checkpointed by sub-sequence number.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { createConsumer, createMemoryLeaseStore, type ConsumerRecord } from '../../src/consumer/index.js';
import { createProducer } from '../../src/producer/index.js';
import { createStream, type EddyLike, kinesisClient, startEddy, uniqueName, waitFor } from './helpers/eddy.js';

const fast = { failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 50, parentShardPollIntervalMs: 50, taskBackoffMs: 50 } as const;

describe('consumer of KPL-aggregated records', () => {
  let eddy: EddyLike;
  let k: KinesisClient;
  before(async () => {
    eddy = await startEddy();
    k = kinesisClient(eddy.endpoint);
  });
  after(async () => {
    k.destroy();
    await eddy.close();
  });

  it('deaggregates, and resumes after the checkpointed sub-record', async () => {
    const stream = uniqueName('kpl');
    await createStream(k, stream, 1);
    const producer = createProducer({ streamName: stream, client: k, aggregation: true });
    const sent = Array.from({ length: 300 }, (_, i) => ({ partitionKey: `k${i % 7}`, data: `u${i}` }));
    await Promise.all(sent.map((r) => producer.put(r)));
    await producer.close();

    const store = createMemoryLeaseStore();
    const seen1: ConsumerRecord[] = [];
    let checkpointed: ConsumerRecord | undefined;
    const first = createConsumer({
      streamName: stream,
      applicationName: 'kpl',
      client: k,
      leaseStore: store,
      initialPosition: 'TRIM_HORIZON',
      ...fast,
      processor: {
        async processRecords({ records, checkpointer }) {
          seen1.push(...records);
          if (checkpointed) return;
          // Checkpoint in the middle of an aggregate: at its second sub-record.
          const i = records.findIndex((r, j) => r.aggregated && r.subSequenceNumber === 1 && records[j + 1]?.sequenceNumber === r.sequenceNumber);
          assert.ok(i >= 0, 'an aggregate of three or more sub-records');
          checkpointed = records[i]!;
          await checkpointer.checkpoint(checkpointed);
        },
        shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
        // No checkpoint at shutdown: the next reader resumes from the one above.
      },
    });
    await first.start();
    await waitFor('all 300', () => seen1.length >= 300);
    await first.stop();
    assert.deepEqual(seen1.map((r) => r.data.toString()).sort(), sent.map((r) => r.data).sort());
    assert.ok(seen1.every((r) => r.aggregated));
    const lease = await store.get('shardId-000000000000');
    assert.equal(lease?.checkpoint, checkpointed!.sequenceNumber);
    assert.equal(lease?.checkpointSubSequenceNumber, 1);
    const keyOf = (r: ConsumerRecord) => `${r.sequenceNumber}/${r.subSequenceNumber}`;
    const expected = seen1.slice(seen1.findIndex((r) => keyOf(r) === keyOf(checkpointed!)) + 1).map(keyOf);

    const seen2: ConsumerRecord[] = [];
    let initialized: string | undefined;
    const second = createConsumer({
      streamName: stream,
      applicationName: 'kpl',
      client: k,
      leaseStore: store,
      ...fast,
      processor: {
        initialize({ checkpoint }) {
          initialized = `${checkpoint.sequenceNumber}/${checkpoint.subSequenceNumber}`;
        },
        processRecords({ records }) {
          seen2.push(...records);
        },
        shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
      },
    });
    await second.start();
    await waitFor('the rest', () => seen2.length >= expected.length);
    await new Promise((r) => setTimeout(r, 100));
    await second.stop();
    assert.equal(initialized, keyOf(checkpointed!));
    assert.deepEqual(seen2.map(keyOf), expected);
  });
});
