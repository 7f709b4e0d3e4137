// Checkpointing by sequence and sub-sequence number (checklist 2.3, 3.4).
import { ConsumerError, ConsumerErrorCode } from './errors.js';
import { compareExtended, type ExtendedSequenceNumber, isSequenceNumber, type Lease, type LeaseChanges, Sentinel } from './lease.js';
import type { Checkpointer, CheckpointTarget } from './types.js';

export interface CheckpointWriter {
  /** Conditional write of the lease holder; rejects with LEASE_LOST. */
  write(changes: LeaseChanges): Promise<Lease>;
}

function targetOf(at: CheckpointTarget): ExtendedSequenceNumber {
  if (typeof at === 'string') return { sequenceNumber: at, subSequenceNumber: 0 };
  if (typeof at === 'object' && at !== null && typeof at.sequenceNumber === 'string') {
    const sub = at.subSequenceNumber ?? 0;
    return { sequenceNumber: at.sequenceNumber, subSequenceNumber: sub };
  }
  throw new ConsumerError(ConsumerErrorCode.INVALID_CHECKPOINT, 'checkpoint: give a record, { sequenceNumber, subSequenceNumber } or a sequence number');
}

/**
 * One per shard tenure. `largestPermitted` follows the records delivered; at shard end it becomes
 * SHARD_END, and checkpoint() then also records the child shard ids.
 */
export class ShardCheckpointer implements Checkpointer {
  #last: ExtendedSequenceNumber;
  #largest: ExtendedSequenceNumber;
  #children: readonly string[] = [];
  readonly #writer: CheckpointWriter;
  readonly #shardId: string;

  constructor(shardId: string, last: ExtendedSequenceNumber, writer: CheckpointWriter) {
    this.#shardId = shardId;
    this.#last = last;
    this.#largest = last;
    this.#writer = writer;
  }

  get lastCheckpoint(): ExtendedSequenceNumber {
    return this.#last;
  }

  get atShardEnd(): boolean {
    return this.#largest.sequenceNumber === Sentinel.SHARD_END;
  }

  /** The last record handed to the processor. */
  delivered(upTo: ExtendedSequenceNumber): void {
    if (compareExtended(upTo, this.#largest) > 0) this.#largest = upTo;
  }

  shardEnded(childShardIds: readonly string[]): void {
    this.#largest = { sequenceNumber: Sentinel.SHARD_END, subSequenceNumber: 0 };
    this.#children = childShardIds;
  }

  #validate(at: CheckpointTarget | undefined): ExtendedSequenceNumber {
    const t = at === undefined ? this.#largest : targetOf(at);
    if (t.sequenceNumber !== Sentinel.SHARD_END && !isSequenceNumber(t.sequenceNumber)) {
      throw new ConsumerError(ConsumerErrorCode.INVALID_CHECKPOINT, `checkpoint: ${JSON.stringify(t.sequenceNumber)} is not a sequence number`);
    }
    if (!Number.isInteger(t.subSequenceNumber) || t.subSequenceNumber < 0) {
      throw new ConsumerError(ConsumerErrorCode.INVALID_CHECKPOINT, `checkpoint: subSequenceNumber must be a non-negative integer, got ${t.subSequenceNumber}`);
    }
    // lastCheckpoint ≤ new ≤ largest permitted (checklist 3.4).
    if (compareExtended(t, this.#last) < 0) {
      throw new ConsumerError(
        ConsumerErrorCode.INVALID_CHECKPOINT,
        `checkpoint: ${t.sequenceNumber}/${t.subSequenceNumber} is before the last checkpoint ${this.#last.sequenceNumber}/${this.#last.subSequenceNumber} of ${this.#shardId}`,
      );
    }
    if (compareExtended(t, this.#largest) > 0) {
      throw new ConsumerError(
        ConsumerErrorCode.INVALID_CHECKPOINT,
        `checkpoint: ${t.sequenceNumber}/${t.subSequenceNumber} is after the last record delivered ${this.#largest.sequenceNumber}/${this.#largest.subSequenceNumber} of ${this.#shardId}`,
      );
    }
    return t;
  }

  async checkpoint(at?: CheckpointTarget): Promise<void> {
    // Nothing delivered yet (the checkpoint is still TRIM_HORIZON/LATEST/AT_TIMESTAMP): nothing to store.
    if (at === undefined && this.#largest.sequenceNumber !== Sentinel.SHARD_END && !isSequenceNumber(this.#largest.sequenceNumber)) return;
    const t = this.#validate(at);
    await this.#commit(t);
  }

  async #commit(t: ExtendedSequenceNumber): Promise<void> {
    const changes: LeaseChanges = {
      checkpoint: t.sequenceNumber,
      checkpointSubSequenceNumber: t.subSequenceNumber,
      ownerSwitchesSinceCheckpoint: 0,
      pendingCheckpoint: null,
      pendingCheckpointSubSequenceNumber: null,
      pendingCheckpointState: null,
      ...(t.sequenceNumber === Sentinel.SHARD_END ? { childShardIds: this.#children } : {}),
    };
    await this.#writer.write(changes);
    if (compareExtended(t, this.#last) > 0) this.#last = t;
  }

  async prepareCheckpoint(at?: CheckpointTarget): Promise<{ checkpoint(): Promise<void> }> {
    const t = this.#validate(at);
    await this.#writer.write({ pendingCheckpoint: t.sequenceNumber, pendingCheckpointSubSequenceNumber: t.subSequenceNumber });
    return {
      checkpoint: async () => {
        if (compareExtended(t, this.#last) < 0) {
          throw new ConsumerError(ConsumerErrorCode.INVALID_CHECKPOINT, `checkpoint: the prepared ${t.sequenceNumber}/${t.subSequenceNumber} is before the last checkpoint`);
        }
        await this.#commit(t);
      },
    };
  }
}
