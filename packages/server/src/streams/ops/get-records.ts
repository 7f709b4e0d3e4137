import { errors } from '../../core/errors.js';
import { shardIdOf } from '../../core/ids.js';
import type { OpContext } from '../context.js';
import { issueIterator, openIterator } from '../iterators.js';
import { resolveName } from '../service.js';
import { ShardLimits } from '../throttle.js';
import { renderRecords } from './render.js';

interface Input {
  ShardIterator: string;
  Limit?: number;
  StreamARN?: string;
}

export async function getRecords(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  const it = openIterator(svc, input.ShardIterator);
  const st = await svc.byId(it.streamId);
  if (!st || (st.meta.accountId !== ctx.caller.accountId)) {
    throw errors.ResourceNotFoundException(`Shard ${shardIdOf(it.shardIndex)} in stream under account ${ctx.caller.accountId} does not exist`);
  }
  const m = st.meta;
  if (input.StreamARN !== undefined && resolveName(ctx.caller, input).name !== m.name) {
    throw errors.InvalidArgumentException(`ShardIterator does not belong to stream ${input.StreamARN}.`);
  }
  const shard = svc.liveShards(st).find((s) => s.index === it.shardIndex);
  if (!shard) {
    throw errors.ResourceNotFoundException(`Shard ${shardIdOf(it.shardIndex)} in stream ${m.name} under account ${m.accountId} does not exist`);
  }
  const rt = svc.runtime(st, shard.index);
  const now = svc.clock.now();
  if (svc.options.throttle) {
    // 5 calls/s, and 2 MiB/s repaid after the fact: after a 10 MiB answer the next 5 s are
    // refused (checklist 1.6).
    if (!rt.readBytes.available(now) || !rt.readCalls.tryTake(1, now)) {
      throw errors.ProvisionedThroughputExceededException(
        `Rate exceeded for shard ${shardIdOf(shard.index)} in stream ${m.name} under account ${m.accountId}.`,
      );
    }
  }
  const limit = input.Limit ?? ShardLimits.maxGetRecordsRecords;
  if (limit > ShardLimits.maxGetRecordsRecords) {
    throw errors.InvalidArgumentException(`Limit must be less than or equal to ${ShardLimits.maxGetRecordsRecords}.`);
  }
  const { records, next } = await svc.read(st, shard, it.position, { maxRecords: limit, maxBytes: ShardLimits.maxGetRecordsBytes });
  const { records: Records, bytes } = renderRecords(svc, shard, records);
  if (svc.options.throttle) {
    if (bytes > rt.readBytes.burst) rt.readBytes.chargeInFull(bytes, now);
    else rt.readBytes.charge(bytes, now);
  }
  const last = records[records.length - 1];
  const caughtUp = next >= rt.durable;
  const MillisBehindLatest = caughtUp || !last ? 0 : Math.max(0, now - last.arrivalMs);
  // End of a closed shard: a null NextShardIterator with the children (the KCL's contract, 1.7).
  const ended = shard.endPosition !== undefined && (next >= BigInt(shard.endPosition) || (records.length === 0 && rt.inflight === 0));
  if (ended) {
    return { Records, NextShardIterator: null, MillisBehindLatest: 0, ChildShards: svc.childShards(st, shard) };
  }
  return {
    Records,
    NextShardIterator: issueIterator(svc, { streamId: m.id, shardIndex: shard.index, position: next }),
    MillisBehindLatest,
  };
}
