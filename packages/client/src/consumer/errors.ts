/** Stable error codes of the consumer (closed list). */
export const ConsumerErrorCode = {
  /** An option is invalid; the message names it. */
  INVALID_OPTION: 'ERR_EDDY_CONSUMER_INVALID_OPTION',
  /** A checkpoint outside [last checkpoint, last record delivered] (checklist 3.4). */
  INVALID_CHECKPOINT: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT',
  /** This worker no longer holds the shard's lease: another worker took it, or it expired. */
  LEASE_LOST: 'ERR_EDDY_CONSUMER_LEASE_LOST',
  /** The consumer is stopped or stopping. */
  SHUTDOWN: 'ERR_EDDY_CONSUMER_SHUTDOWN',
  /** The lease store failed (network, permissions, schema). */
  LEASE_STORE: 'ERR_EDDY_CONSUMER_LEASE_STORE',
  /** The consumer was used in a way its options do not allow (iterating with a processor). */
  INVALID_USE: 'ERR_EDDY_CONSUMER_INVALID_USE',
} as const;
export type ConsumerErrorCode = (typeof ConsumerErrorCode)[keyof typeof ConsumerErrorCode];

export class ConsumerError extends Error {
  readonly code: ConsumerErrorCode;
  /** Whether trying the same thing again may succeed. */
  readonly retryable: boolean;
  constructor(code: ConsumerErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConsumerError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export function leaseLost(shardId: string): ConsumerError {
  return new ConsumerError(ConsumerErrorCode.LEASE_LOST, `lease on ${shardId} is no longer held by this worker`);
}

/** The AWS SDK names errors after the service's `__type`. */
export function awsErrorName(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'name' in e && typeof e.name === 'string' ? e.name : undefined;
}

export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
