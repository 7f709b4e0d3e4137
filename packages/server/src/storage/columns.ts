import type { AppendEntry, ColumnAppend } from './types.js';

/**
 * A column append as the entries `LogStore.append` takes, for engines that store record objects
 * (memory/): each record's data a view of the data column, its key decoded from UTF-8.
 */
export function columnEntries(batch: ColumnAppend): AppendEntry[] {
  const { data, keys, bounds } = batch;
  const out: AppendEntry[] = [];
  const seen = new Set<string>();
  for (const p of batch.parts) {
    const key = `${p.shard.streamId}/${p.shard.shardIndex}`;
    if (seen.has(key)) throw new RangeError(`shard ${key} appears twice in one append`);
    seen.add(key);
    let position = p.first;
    for (const i of p.records) {
      checkBounds(batch, i);
      out.push({
        shard: p.shard,
        record: {
          position: position++,
          arrivalMs: p.arrivalMs,
          partitionKey: keys.toString('utf8', bounds[4 * i + 2], bounds[4 * i + 3]),
          data: data.subarray(bounds[4 * i], bounds[4 * i + 1]),
          keyId: batch.keyId,
        },
      });
    }
  }
  return out;
}

/** Throws RangeError unless record i of the columns lies within them. */
export function checkBounds(batch: ColumnAppend, i: number): void {
  const { bounds } = batch;
  if (!Number.isInteger(i) || i < 0 || 4 * i + 3 >= bounds.length) throw new RangeError(`record ${i} is not in the columns`);
  const ds = bounds[4 * i]!;
  const de = bounds[4 * i + 1]!;
  const ks = bounds[4 * i + 2]!;
  const ke = bounds[4 * i + 3]!;
  if (ds < 0 || de < ds || de > batch.data.length || ks < 0 || ke < ks || ke > batch.keys.length) {
    throw new RangeError(`record ${i} has bounds outside its columns`);
  }
}
