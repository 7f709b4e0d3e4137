import { firehoseErrors } from '../errors.js';
import type { EncryptionState } from '../types.js';

export interface EncryptionInput {
  readonly KeyType: EncryptionState['KeyType'];
  readonly KeyARN?: string;
}

/**
 * The checks on DeliveryStreamEncryptionConfigurationInput (checklist 4.2): a customer managed key
 * needs its ARN, an AWS owned one takes none. There is no KMS here; a key of another region cannot
 * be one the stream could use, and is refused as KMS would refuse it (InvalidKMSResourceException).
 */
export function checkEncryptionInput(e: EncryptionInput, region: string): { KeyType: EncryptionState['KeyType']; KeyARN?: string } {
  if (e.KeyType === 'CUSTOMER_MANAGED_CMK') {
    if (e.KeyARN === undefined) throw firehoseErrors.InvalidArgumentException('KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.');
    const keyRegion = e.KeyARN.split(':')[3];
    if (keyRegion !== region) {
      throw firehoseErrors.InvalidKMSResourceException('KMS.NotFoundException', `Key '${e.KeyARN}' does not exist in region ${region}.`);
    }
    return { KeyType: e.KeyType, KeyARN: e.KeyARN };
  }
  if (e.KeyARN !== undefined) throw firehoseErrors.InvalidArgumentException('KeyARN must not be specified when KeyType is AWS_OWNED_CMK.');
  return { KeyType: e.KeyType };
}
