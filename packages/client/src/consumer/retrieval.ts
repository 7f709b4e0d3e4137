import type { ChildShard, _Record } from '@aws-sdk/client-kinesis';

/** Where reading a shard starts (GetShardIterator / SubscribeToShard StartingPosition). */
export type StartingPosition =
  | { type: 'TRIM_HORIZON' }
  | { type: 'LATEST' }
  | { type: 'AT_TIMESTAMP'; timestamp: Date }
  | { type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string };

/** One read: Kinesis records as they came, and at the end of a closed shard its children. */
export interface FetchResult {
  records: _Record[];
  millisBehindLatest: number | undefined;
  /** Present (possibly empty) only when the shard has ended and been read to its end. */
  childShards?: ChildShard[];
  /**
   * The shard is gone from the stream (past its retention period: ListShards no longer has it and
   * reads say ResourceNotFoundException). Comes with `childShards: []`; the KCL treats it as
   * ended (a terminal result) so that its children can start.
   */
  expired?: true;
}

/**
 * Whether a shard that a read called missing (ResourceNotFoundException) is really gone: the
 * stream is there and ListShards does not list the shard. False when the stream itself is missing
 * or the listing fails (the read is then retried).
 */
export type ShardGoneCheck = (signal: AbortSignal) => Promise<boolean>;

/** Reads one shard from a position until it ends or `signal` aborts. */
export interface Fetcher {
  batches(start: StartingPosition, signal: AbortSignal): AsyncGenerator<FetchResult, void, undefined>;
}
