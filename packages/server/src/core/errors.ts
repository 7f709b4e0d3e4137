/**
 * The one error type that crosses layers. `type` is the AWS `__type` (the SDKs build their
 * exception classes from it); `status` is the HTTP status AWS sends with it (400 for client errors,
 * 500 for InternalFailure: checklist section 1.1).
 */
export class AwsError extends Error {
  readonly type: string;
  readonly status: number;
  /** Extra members some error shapes carry (Firehose's `code`, for one). */
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(type: string, message: string, status = 400, extra?: Record<string, unknown>) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
    this.extra = extra;
  }
}

const make = (type: string, status = 400) => (message: string) => new AwsError(type, message, status);

/** Errors of the Kinesis model and the Coral framework in front of it, by AWS `__type`. */
export const errors = {
  UnknownOperationException: make('UnknownOperationException'),
  SerializationException: make('SerializationException'),
  MissingAuthenticationTokenException: make('MissingAuthenticationTokenException', 403),
  IncompleteSignatureException: make('IncompleteSignatureException', 403),
  InvalidSignatureException: make('InvalidSignatureException', 403),
  UnrecognizedClientException: make('UnrecognizedClientException', 403),
  AccessDeniedException: make('AccessDeniedException'),
  ValidationException: make('ValidationException'),
  InvalidArgumentException: make('InvalidArgumentException'),
  ResourceNotFoundException: make('ResourceNotFoundException'),
  ResourceInUseException: make('ResourceInUseException'),
  LimitExceededException: make('LimitExceededException'),
  ProvisionedThroughputExceededException: make('ProvisionedThroughputExceededException'),
  ExpiredIteratorException: make('ExpiredIteratorException'),
  ExpiredNextTokenException: make('ExpiredNextTokenException'),
  KMSDisabledException: make('KMSDisabledException'),
  KMSInvalidStateException: make('KMSInvalidStateException'),
  KMSAccessDeniedException: make('KMSAccessDeniedException'),
  KMSNotFoundException: make('KMSNotFoundException'),
  KMSOptInRequired: make('KMSOptInRequired'),
  KMSThrottlingException: make('KMSThrottlingException'),
  InternalFailureException: make('InternalFailureException', 500),
  RequestEntityTooLarge: make('RequestEntityTooLargeException', 413),
} as const;

export function isAwsError(e: unknown): e is AwsError {
  return e instanceof AwsError;
}
