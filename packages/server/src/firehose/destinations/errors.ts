/**
 * How a delivery to a destination other than S3 fails. `errorCode` is Firehose's (the
 * `errorCode` of the error-output documents and CloudWatch Logs: HttpEndpoint.*, Splunk.*,
 * OpenSearch/Elasticsearch bulk errors, Redshift.*); `retryable` says whether trying the same
 * batch again later may succeed (a server error, a timeout) or not (bad credentials, a record
 * the destination rejects).
 */
export class DeliveryError extends Error {
  /** Attempts made before giving up (the error document's attemptsMade). */
  attemptsMade: number;
  /**
   * False when the records must not go to the error output: an HTTP endpoint answering 413 is
   * a permanent failure that Firehose does not back up (HTTP endpoint delivery contract).
   */
  readonly routeToErrorOutput: boolean;

  constructor(
    readonly errorCode: string,
    message: string,
    readonly retryable: boolean,
    options: { attemptsMade?: number; routeToErrorOutput?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.attemptsMade = options.attemptsMade ?? 1;
    this.routeToErrorOutput = options.routeToErrorOutput ?? true;
  }
}

/** One document OpenSearch/Elasticsearch refused, for the `AmazonOpenSearchService-failed` output. */
export interface DocumentFailure {
  /** Index of the record in the batch given. */
  readonly index: number;
  /** HTTP status of the bulk item. */
  readonly status: number;
  /** The bulk item's error type (e.g. `mapper_parsing_exception`), Firehose's `errorCode`. */
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly indexName: string;
  readonly typeName?: string | undefined;
  readonly documentId?: string | undefined;
}

/**
 * Some documents of a bulk request were refused for good (or still failing when the retry
 * duration ran out); the others were indexed. `failures` names them for the error output.
 */
export class BulkDeliveryError extends DeliveryError {
  constructor(
    readonly failures: readonly DocumentFailure[],
    attemptsMade: number,
  ) {
    const first = failures[0];
    super(
      first?.errorCode ?? 'OpenSearch.BulkItemFailed',
      `${failures.length} document(s) were not indexed${first ? `; first: ${first.status} ${first.errorCode}: ${first.errorMessage}` : ''}`,
      failures.some((f) => f.status === 429 || f.status >= 500),
      { attemptsMade },
    );
    this.name = 'BulkDeliveryError';
  }
}
