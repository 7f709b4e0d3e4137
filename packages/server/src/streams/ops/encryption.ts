import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';
import { KeyStore } from '../key-store.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  EncryptionType: 'NONE' | 'KMS';
  KeyId: string;
}

/** Start/Stop each: 25 successful calls per rolling 24 h (checklist 1.6). */
const MAX_CHANGES = 25;

export async function startStreamEncryption(input: Input, ctx: OpContext) {
  return change(input, ctx, 'KMS');
}

export async function stopStreamEncryption(input: Input, ctx: OpContext) {
  return change(input, ctx, 'NONE');
}

async function change(input: Input, ctx: OpContext, to: 'NONE' | 'KMS') {
  const svc = ctx.streams;
  if (input.EncryptionType !== 'KMS') {
    throw errors.InvalidArgumentException(`Encryption type ${input.EncryptionType} is not supported. Only KMS is supported.`);
  }
  const st = await svc.find(ctx.caller, input);
  svc.requireActive(st);
  const m = st.meta;
  KeyStore.check(input.KeyId);
  if (to === 'NONE' && m.encryptionType !== 'KMS') {
    throw errors.InvalidArgumentException(`Stream ${m.name} under account ${m.accountId} is not encrypted.`);
  }
  if (to === 'NONE' && m.keyId !== input.KeyId) {
    throw errors.InvalidArgumentException(`KeyId ${input.KeyId} does not match the key ${m.keyId ?? ''} of stream ${m.name}.`);
  }
  const recent = svc.recent(m.history.encryption);
  if (recent.length >= MAX_CHANGES) {
    throw errors.LimitExceededException(`Stream ${m.name} under account ${m.accountId} has changed its encryption ${MAX_CHANGES} times in the last 24 hours.`);
  }
  // The data key exists before records need it.
  if (to === 'KMS') await svc.keys.refFor(m.accountId, input.KeyId);
  await svc.beginChange(
    st,
    to === 'KMS' ? { kind: 'encryption', encryptionType: 'KMS', keyId: input.KeyId } : { kind: 'encryption', encryptionType: 'NONE' },
    (cur) => ({ history: { ...cur.history, encryption: [...recent, svc.clock.now()] } }),
  );
  return undefined;
}
