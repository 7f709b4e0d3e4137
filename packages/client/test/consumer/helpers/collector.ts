import type { ConsumerEvent, ConsumerRecord, RecordProcessor } from '../../../src/consumer/index.js';

export interface Seen {
  shardId: string;
  key: string;
  data: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  worker: string;
  at: number;
}

/** A processor that records what it saw and checkpoints after every batch and at shard end. */
export class Collector {
  readonly seen: Seen[] = [];
  readonly events: string[] = [];
  readonly ended = new Map<string, number>();
  readonly errors: Error[] = [];
  checkpointEachBatch = true;
  checkpointOnShutdown = true;

  processor(worker: string): RecordProcessor {
    return {
      initialize: ({ shardId, checkpoint }) => {
        this.events.push(`${worker} init ${shardId} ${checkpoint.sequenceNumber}`);
      },
      processRecords: async ({ shardId, records, checkpointer }) => {
        for (const r of records) this.add(shardId, r, worker);
        if (this.checkpointEachBatch) await checkpointer.checkpoint();
      },
      leaseLost: ({ shardId }) => {
        this.events.push(`${worker} lost ${shardId}`);
      },
      shardEnded: async ({ shardId, checkpointer }) => {
        this.events.push(`${worker} ended ${shardId}`);
        this.ended.set(shardId, Date.now());
        await checkpointer.checkpoint();
      },
      shutdownRequested: async ({ shardId, checkpointer }) => {
        this.events.push(`${worker} shutdown ${shardId}`);
        if (this.checkpointOnShutdown) await checkpointer.checkpoint();
      },
    };
  }

  add(shardId: string, r: ConsumerRecord, worker: string): void {
    this.seen.push({
      shardId,
      key: r.partitionKey,
      data: r.data.toString(),
      sequenceNumber: r.sequenceNumber,
      subSequenceNumber: r.subSequenceNumber,
      worker,
      at: Date.now(),
    });
  }

  onEvent = (e: ConsumerEvent): void => {
    if (e.type === 'error') this.errors.push(e.error);
  };

  data(): string[] {
    return this.seen.map((s) => s.data);
  }
}
