/**
 * Child process of crash.test.ts: appends to several shards of a local store from concurrent
 * writers until it is killed, and prints one line per acknowledged append:
 *
 *   <round> <seq> <shard>:<position> <shard>:<position> ...
 *
 * Every record's data says which append it belongs to and how big that append was, so the parent
 * can check that appends are all-or-nothing, and carries a byte pattern derived from its position,
 * so the parent can check the bytes. Usage: node crash-writer.js <dataDir> <round>
 * (imported, or run without arguments, it does nothing: crash.test.ts shares its record format).
 */
import { pathToFileURL } from 'node:url';
import { openLocalStorage } from '../../src/storage/local/index.js';
import type { AppendEntry } from '../../src/storage/types.js';

export const CRASH_STREAM_ID = 42;
export const CRASH_SHARDS = 4;
export const HEADER_BYTES = 24;

/** The data of one record: a header naming its append and place, then a position-derived pattern. */
export function crashRecordData(round: number, seq: number, count: number, shard: number, position: bigint, fill: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + fill);
  b.writeUInt32BE(round, 0);
  b.writeUInt32BE(seq, 4);
  b.writeUInt16BE(count, 8);
  b.writeUInt16BE(shard, 10);
  b.writeBigUInt64BE(position, 12);
  b.writeUInt32BE(fill, 20);
  const p = Number(position & 0xffffn);
  for (let i = 0; i < fill; i++) b[HEADER_BYTES + i] = (p * 131 + i * 7 + round) & 0xff;
  return b;
}

async function main(dataDir: string, round: number): Promise<void> {
  // A safety net if the parent never kills us: stop on our own.
  setTimeout(() => process.exit(3), 20_000);
  const storage = await openLocalStorage({ dataDir });
  const next: bigint[] = [];
  for (let s = 0; s < CRASH_SHARDS; s++) {
    const last = await storage.log.lastPosition({ streamId: CRASH_STREAM_ID, shardIndex: s });
    next.push(last === undefined ? 0n : last + 1n);
  }
  let seq = 0;
  const writer = async (): Promise<void> => {
    for (;;) {
      const mine = seq++;
      const count = 1 + Math.floor(Math.random() * 40);
      const entries: AppendEntry[] = [];
      const placed: string[] = [];
      for (let i = 0; i < count; i++) {
        const shard = Math.floor(Math.random() * CRASH_SHARDS);
        const position = next[shard]!;
        next[shard] = position + 1n;
        // Mostly small records, sometimes one that needs LMDB overflow pages.
        const fill = Math.random() < 0.02 ? 20_000 + Math.floor(Math.random() * 80_000) : Math.floor(Math.random() * 600);
        entries.push({
          shard: { streamId: CRASH_STREAM_ID, shardIndex: shard },
          record: {
            position,
            arrivalMs: Date.now(),
            partitionKey: `pk-${shard}-${position}`,
            data: crashRecordData(round, mine, count, shard, position, fill),
            keyId: round,
          },
        });
        placed.push(`${shard}:${position}`);
      }
      await storage.log.append(entries);
      // stdout is a pipe: writes are synchronous on Linux, so an ack printed here survives the kill.
      process.stdout.write(`${round} ${mine} ${placed.join(' ')}\n`);
    }
  };
  await Promise.all(Array.from({ length: 6 }, writer));
}

const [dataDir, round] = process.argv.slice(2);
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && dataDir !== undefined && round !== undefined) {
  main(dataDir, Number(round)).catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}
