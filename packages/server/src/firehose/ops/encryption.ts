import { firehoseErrors } from '../errors.js';
import type { DeliveryStreamState } from '../service.js';
import { DeliveryStreamStatus, DeliveryStreamType } from '../types.js';
import type { FirehoseContext } from './context.js';
import { checkEncryptionInput, type EncryptionInput } from './encryption-input.js';

/** Start + Stop calls allowed per stream in 24 hours (checklist 4.2). */
const CALLS_PER_DAY = 25;

function checkChangeable(st: DeliveryStreamState, ctx: FirehoseContext, op: string): void {
  const m = st.meta;
  if (m.type !== DeliveryStreamType.DirectPut) {
    throw firehoseErrors.InvalidArgumentException(`${op} is supported only for Firehose streams whose source is Direct PUT; ${m.name} is ${m.type}.`);
  }
  if (m.status !== DeliveryStreamStatus.ACTIVE) {
    throw firehoseErrors.ResourceInUseException(`Firehose ${m.name} under account ${m.accountId} is not ACTIVE, instead in state ${m.status}.`);
  }
  const s = m.encryption?.Status;
  if (s === 'ENABLING' || s === 'DISABLING') {
    throw firehoseErrors.ResourceInUseException(`Encryption of Firehose ${m.name} under account ${m.accountId} is ${s}; try again once it settles.`);
  }
  if (ctx.firehose.recentEncryptionCalls(m).length >= CALLS_PER_DAY) {
    throw firehoseErrors.LimitExceededException(
      `Firehose ${m.name} under account ${m.accountId} has reached the limit of ${CALLS_PER_DAY} StartDeliveryStreamEncryption and StopDeliveryStreamEncryption calls in 24 hours.`,
    );
  }
}

export async function startDeliveryStreamEncryption(
  input: { DeliveryStreamName: string; DeliveryStreamEncryptionConfigurationInput?: EncryptionInput },
  ctx: FirehoseContext,
) {
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  checkChangeable(st, ctx, 'StartDeliveryStreamEncryption');
  const key = checkEncryptionInput(input.DeliveryStreamEncryptionConfigurationInput ?? { KeyType: 'AWS_OWNED_CMK' }, ctx.caller.region);
  const now = svc.clock.now();
  await svc.update(st, (cur) => ({
    ...cur,
    encryption: { ...key, Status: 'ENABLING', dueMs: now + svc.options.stateDelayMs },
    encryptionCalls: [...svc.recentEncryptionCalls(cur), now],
  }));
  await svc.settle(st);
  return {};
}

export async function stopDeliveryStreamEncryption(input: { DeliveryStreamName: string }, ctx: FirehoseContext) {
  const svc = ctx.firehose;
  const st = await svc.find(ctx.caller, input.DeliveryStreamName);
  checkChangeable(st, ctx, 'StopDeliveryStreamEncryption');
  const now = svc.clock.now();
  await svc.update(st, (cur) => ({
    ...cur,
    encryption: {
      KeyType: cur.encryption?.KeyType ?? 'AWS_OWNED_CMK',
      ...(cur.encryption?.KeyARN !== undefined ? { KeyARN: cur.encryption.KeyARN } : {}),
      Status: 'DISABLING',
      dueMs: now + svc.options.stateDelayMs,
    },
    encryptionCalls: [...svc.recentEncryptionCalls(cur), now],
  }));
  await svc.settle(st);
  return {};
}
