import { applyUpdate } from '../config.js';
import { firehoseErrors } from '../errors.js';
import { DeliveryStreamStatus, FIRST_DESTINATION_ID } from '../types.js';
import type { FirehoseContext } from './context.js';

interface Input extends Record<string, unknown> {
  DeliveryStreamName: string;
  CurrentDeliveryStreamVersionId: string;
  DestinationId: string;
}

/**
 * Optimistic concurrency on VersionId (a mismatch is ConcurrentModificationException); the same
 * destination type merges, another type replaces (checklist 4.2).
 */
export async function updateDestination(input: Input, ctx: FirehoseContext) {
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  const m = st.meta;
  if (m.status !== DeliveryStreamStatus.ACTIVE) {
    throw firehoseErrors.ResourceInUseException(`Firehose ${m.name} under account ${m.accountId} is not ACTIVE, instead in state ${m.status}.`);
  }
  if (BigInt(input.CurrentDeliveryStreamVersionId) !== BigInt(m.versionId)) {
    throw firehoseErrors.ConcurrentModificationException(
      `Cannot update firehose: ${m.name} since the current version id: ${m.versionId} and specified version id: ${input.CurrentDeliveryStreamVersionId} do not match`,
    );
  }
  if (input.DestinationId !== FIRST_DESTINATION_ID) {
    throw firehoseErrors.InvalidArgumentException(`Destination Id ${input.DestinationId} not found for Firehose ${m.name} under account ${m.accountId}.`);
  }
  await svc.updateDestination(st, applyUpdate(m.destination, input));
  return {};
}
