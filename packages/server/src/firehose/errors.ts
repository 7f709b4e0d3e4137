import { AwsError, errors } from '../core/errors.js';

/**
 * Firehose's error shapes (model firehose-2015-08-04, checklist 4.1): the Kinesis ones plus
 * ConcurrentModificationException, InvalidKMSResourceException and InvalidSourceException (both
 * with a `code` member) and ServiceUnavailableException, a server fault answered with HTTP 503.
 */
export const firehoseErrors = {
  InvalidArgumentException: errors.InvalidArgumentException,
  ResourceNotFoundException: errors.ResourceNotFoundException,
  ResourceInUseException: errors.ResourceInUseException,
  LimitExceededException: errors.LimitExceededException,
  ConcurrentModificationException: (message: string) => new AwsError('ConcurrentModificationException', message),
  InvalidKMSResourceException: (code: string, message: string) => new AwsError('InvalidKMSResourceException', message, 400, { code }),
  InvalidSourceException: (code: string, message: string) => new AwsError('InvalidSourceException', message, 400, { code }),
  ServiceUnavailableException: (message: string) => new AwsError('ServiceUnavailableException', message, 503),
} as const;

/** AWS's wording (moto firehose/models.py, steampipe-plugin-aws#759). */
export function deliveryStreamNotFound(name: string, accountId: string): AwsError {
  return firehoseErrors.ResourceNotFoundException(`Firehose ${name} under account ${accountId} not found.`);
}
