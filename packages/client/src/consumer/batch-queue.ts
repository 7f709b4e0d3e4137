// The async-iterator face of the consumer: a record processor that hands each batch to the
// iterating loop and returns once the loop is done with it, so shards wait for the application
// (back-pressure) and checkpoints stay in order.
import type { CheckpointTarget, ProcessRecordsInput, RecordBatch, RecordProcessor, ShardEndedInput } from './types.js';

interface Entry {
  batch: RecordBatch;
  done: () => void;
}

export class BatchQueue implements RecordProcessor {
  readonly #ready: Entry[] = [];
  readonly #waiting: ((r: IteratorResult<RecordBatch>) => void)[] = [];
  readonly #inFlight = new Set<Entry>();
  #closed = false;
  #draining = false;

  processRecords(input: ProcessRecordsInput): Promise<void> {
    return this.#offer(input.shardId, input.records, input.millisBehindLatest, false, [], input.checkpointer);
  }

  shardEnded(input: ShardEndedInput): Promise<void> {
    return this.#offer(input.shardId, [], undefined, true, input.childShardIds, input.checkpointer);
  }

  #offer(shardId: string, records: RecordBatch['records'], millisBehindLatest: number | undefined, shardEnded: boolean, childShardIds: string[], checkpointer: RecordBatch['checkpointer']): Promise<void> {
    if (this.#draining) return Promise.resolve();
    return new Promise((resolve) => {
      let settled = false;
      const entry: Entry = {
        batch: {
          shardId,
          records,
          millisBehindLatest,
          shardEnded,
          childShardIds,
          checkpointer,
          checkpoint: async (at?: CheckpointTarget) => {
            await checkpointer.checkpoint(at);
            entry.done();
          },
        },
        done: () => {
          if (settled) return;
          settled = true;
          this.#inFlight.delete(entry);
          resolve();
        },
      };
      const w = this.#waiting.shift();
      if (w) {
        this.#inFlight.add(entry);
        w({ value: entry.batch, done: false });
      } else this.#ready.push(entry);
    });
  }

  /** The loop asks for more: whatever it had is done. */
  next(): Promise<IteratorResult<RecordBatch>> {
    for (const e of [...this.#inFlight]) e.done();
    const e = this.#ready.shift();
    if (e) {
      this.#inFlight.add(e);
      return Promise.resolve({ value: e.batch, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /**
   * Stopping: batches not yet handed out are dropped (not checkpointed, so read again later);
   * batches the loop holds get until it moves on or checkpoints, or `graceMs`.
   */
  drain(graceMs: number): void {
    this.#draining = true;
    for (const e of this.#ready.splice(0)) e.done();
    if (this.#inFlight.size > 0) {
      const t = setTimeout(() => {
        for (const e of [...this.#inFlight]) e.done();
      }, graceMs);
      t.unref();
    }
  }

  close(): void {
    this.drain(0);
    this.#closed = true;
    for (const e of [...this.#inFlight]) e.done();
    for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
  }
}
