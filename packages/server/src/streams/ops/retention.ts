import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';

interface Input {
  StreamName?: string;
  StreamARN?: string;
  RetentionPeriodHours: number;
}

/** 24 h to 365 days (checklist 1.5). */
const MIN_HOURS = 24;
const MAX_HOURS = 8760;

export async function increaseStreamRetentionPeriod(input: Input, ctx: OpContext) {
  return change(input, ctx, 'increase');
}

export async function decreaseStreamRetentionPeriod(input: Input, ctx: OpContext) {
  return change(input, ctx, 'decrease');
}

async function change(input: Input, ctx: OpContext, dir: 'increase' | 'decrease') {
  const svc = ctx.streams;
  const st = await svc.find(ctx.caller, input);
  svc.requireActive(st);
  const h = input.RetentionPeriodHours;
  const m = st.meta;
  if (h < MIN_HOURS) {
    throw errors.InvalidArgumentException(`Minimum allowed retention period is ${MIN_HOURS} hours. Requested retention period (${h} hours) is too short.`);
  }
  if (h > MAX_HOURS) {
    throw errors.InvalidArgumentException(`Maximum allowed retention period is ${MAX_HOURS} hours. Requested retention period (${h} hours) is too long.`);
  }
  if (dir === 'increase' && h < m.retentionHours) {
    throw errors.InvalidArgumentException(
      `Requested retention period (${h} hours) for stream ${m.name} can not be shorter than existing retention period (${m.retentionHours} hours). Use DecreaseRetentionPeriod API.`,
    );
  }
  if (dir === 'decrease' && h > m.retentionHours) {
    throw errors.InvalidArgumentException(
      `Requested retention period (${h} hours) for stream ${m.name} can not be longer than existing retention period (${m.retentionHours} hours). Use IncreaseRetentionPeriod API.`,
    );
  }
  await svc.update(st, (cur) => ({ ...cur, retentionHours: h }));
  return undefined;
}
