/** Stable error codes of the producer (closed list). */
export const ProducerErrorCode = {
  /** An option is invalid; the message names it. */
  INVALID_OPTION: 'ERR_EDDY_PRODUCER_INVALID_OPTION',
  /** A record given to put() is invalid (partition key, hash key, size). */
  INVALID_RECORD: 'ERR_EDDY_PRODUCER_INVALID_RECORD',
  /** The record was not stored within recordTtlMs; `cause` is the last failure. */
  RECORD_EXPIRED: 'ERR_EDDY_PRODUCER_RECORD_EXPIRED',
  /** Kinesis refused the record with an error retrying cannot fix. */
  RECORD_REJECTED: 'ERR_EDDY_PRODUCER_RECORD_REJECTED',
  /** add() while maxInFlightBytes are in flight and as many again wait for room (ready() not awaited). */
  BUFFER_FULL: 'ERR_EDDY_PRODUCER_BUFFER_FULL',
  /** put() after close(). */
  CLOSED: 'ERR_EDDY_PRODUCER_CLOSED',
  /** The producer's AbortSignal fired. */
  ABORTED: 'ERR_EDDY_PRODUCER_ABORTED',
} as const;
export type ProducerErrorCode = (typeof ProducerErrorCode)[keyof typeof ProducerErrorCode];

export class ProducerError extends Error {
  readonly code: ProducerErrorCode;
  /** Whether trying the same thing again may succeed. */
  readonly retryable: boolean;
  constructor(code: ProducerErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProducerError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}
