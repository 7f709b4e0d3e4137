import { errors } from '../../core/errors.js';
import { parseShardId, shardIdOf } from '../../core/ids.js';
import { decodeSequenceNumber } from '../../core/sequence-number.js';
import type { OpContext } from '../context.js';
import { issueIterator } from '../iterators.js';
import type { StreamState } from '../service.js';
import type { ShardMeta } from '../types.js';

type IteratorType = 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  ShardId: string;
  ShardIteratorType: IteratorType;
  StartingSequenceNumber?: string;
  Timestamp?: number;
}

export async function getShardIterator(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  const m = st.meta;
  const index = parseShardId(input.ShardId);
  const shard = index === undefined ? undefined : svc.liveShards(st).find((s) => s.index === index);
  if (!shard) {
    throw errors.ResourceNotFoundException(`Shard ${input.ShardId} in stream ${m.name} under account ${m.accountId} does not exist`);
  }
  const type = input.ShardIteratorType;
  const bySeq = type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER';
  if (bySeq && input.StartingSequenceNumber === undefined) {
    throw errors.InvalidArgumentException(
      `Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified ${type} and no StartingSequenceNumber.`,
    );
  }
  if (!bySeq && input.StartingSequenceNumber !== undefined) {
    throw errors.InvalidArgumentException(
      `Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified ${type} and also a StartingSequenceNumber.`,
    );
  }
  const now = svc.clock.now();
  const rt = svc.runtime(st, shard.index);
  if (svc.options.throttle && !rt.iteratorCalls.tryTake(1, now)) {
    throw errors.ProvisionedThroughputExceededException(
      `Rate exceeded for shard ${shardIdOf(shard.index)} in stream ${m.name} under account ${m.accountId}.`,
    );
  }
  const position = await startingPosition(ctx, st, shard, type, input.StartingSequenceNumber, input.Timestamp);
  return { ShardIterator: issueIterator(svc, { streamId: m.id, shardIndex: shard.index, position }) };
}

/** Where a read starts for each iterator type (checklist 1.7 GetShardIterator; SubscribeToShard too). */
export async function startingPosition(
  ctx: OpContext,
  st: StreamState,
  shard: ShardMeta,
  type: IteratorType,
  startingSequenceNumber: string | undefined,
  timestamp: number | undefined,
): Promise<bigint> {
  const svc = ctx.streams;
  const m = st.meta;
  const rt = svc.runtime(st, shard.index);
  const now = svc.clock.now();
  let position: bigint;
  switch (type) {
    case 'TRIM_HORIZON':
      position = 0n;
      break;
    case 'LATEST':
      position = shard.endPosition !== undefined ? BigInt(shard.endPosition) : rt.durable;
      break;
    case 'AT_TIMESTAMP': {
      if (timestamp === undefined) {
        throw errors.InvalidArgumentException(
          'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.',
        );
      }
      if (timestamp > now) {
        throw errors.InvalidArgumentException(
          `The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${Math.floor(timestamp)}, currentTimestampInMillis: ${now}`,
        );
      }
      const at = await svc.storage.log.positionAtTime({ streamId: m.id, shardIndex: shard.index }, timestamp);
      position = at ?? rt.durable;
      break;
    }
    default: {
      const seq = startingSequenceNumber;
      if (seq === undefined) {
        throw errors.InvalidArgumentException(`StartingSequenceNumber is required for iterator type ${type}.`);
      }
      const parts = decodeSequenceNumber(seq);
      if (!parts) {
        throw errors.InvalidArgumentException(`StartingSequenceNumber ${seq} used in GetShardIterator on shard ${shardIdOf(shard.index)} in stream ${m.name} under account ${m.accountId} is invalid.`);
      }
      if (parts.shardIndex !== shard.index) {
        throw errors.InvalidArgumentException(
          `Invalid StartingSequenceNumber. It encodes ${shardIdOf(parts.shardIndex)}, while it was used in a call to a shard with ${shardIdOf(shard.index)}`,
        );
      }
      if (parts.shardCreatedSec !== Math.floor(shard.createdMs / 1000)) {
        throw errors.InvalidArgumentException(
          `StartingSequenceNumber ${seq} used in GetShardIterator on shard ${shardIdOf(shard.index)} in stream ${m.name} under account ${m.accountId} is invalid because it did not come from this stream.`,
        );
      }
      position = type === 'AT_SEQUENCE_NUMBER' ? parts.position : parts.position + 1n;
    }
  }
  return position;
}
