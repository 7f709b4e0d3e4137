/** Shard ids as AWS writes them: `shardId-` and a 12-digit zero-padded index (checklist 1.4). */
export type ShardId = string & { readonly __brand: 'ShardId' };

const shardIds: ShardId[] = [];

export function shardIdOf(index: number): ShardId {
  // Called for every record written; the strings are worth keeping.
  if (index < 100_000) return (shardIds[index] ??= `shardId-${String(index).padStart(12, '0')}` as ShardId);
  return `shardId-${String(index).padStart(12, '0')}` as ShardId;
}

/**
 * Resolves a ShardId argument to an index. AWS accepts the canonical form; like kinesalite we also
 * accept a bare or unpadded number (`shardId-1`, `1`).
 */
export function parseShardId(s: string): number | undefined {
  const m = /^(?:shardId-)?(\d{1,12})$/.exec(s);
  if (!m?.[1]) return undefined;
  return Number(m[1]);
}

export function streamArn(region: string, accountId: string, streamName: string): string {
  return `arn:aws:kinesis:${region}:${accountId}:stream/${streamName}`;
}

export interface ParsedStreamArn {
  readonly region: string;
  readonly accountId: string;
  readonly streamName: string;
  /** Set for consumer ARNs: `{streamArn}/consumer/{name}:{creationEpochSeconds}`. */
  readonly consumerName?: string;
  readonly consumerCreatedSec?: number;
}

export function parseStreamArn(arn: string): ParsedStreamArn | undefined {
  const m = /^arn:aws[^:]*:kinesis:([^:]*):(\d{12}):stream\/([a-zA-Z0-9_.-]+)(?:\/consumer\/([a-zA-Z0-9_.-]+):(\d+))?$/.exec(arn);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
  const base = { region: m[1], accountId: m[2], streamName: m[3] };
  if (m[4] !== undefined && m[5] !== undefined) return { ...base, consumerName: m[4], consumerCreatedSec: Number(m[5]) };
  return base;
}
