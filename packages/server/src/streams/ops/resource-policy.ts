import { errors } from '../../core/errors.js';
import type { OpContext } from '../context.js';
import { resolveResource } from './tags.js';

/** Policies are stored and returned as given; Eddy's own auth does not evaluate them. */
export async function putResourcePolicy(input: { ResourceARN: string; Policy: string }, ctx: OpContext) {
  await resolveResource(ctx, input.ResourceARN);
  let doc: unknown;
  try {
    doc = JSON.parse(input.Policy);
  } catch {
    throw errors.InvalidArgumentException('Policy is not valid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || !('Statement' in doc)) {
    throw errors.InvalidArgumentException('Policy must be a JSON policy document with a Statement.');
  }
  await ctx.streams.putPolicy(input.ResourceARN, input.Policy);
  return undefined;
}

export async function getResourcePolicy(input: { ResourceARN: string }, ctx: OpContext) {
  await resolveResource(ctx, input.ResourceARN);
  return { Policy: ctx.streams.getPolicy(input.ResourceARN) ?? '{}' };
}

export async function deleteResourcePolicy(input: { ResourceARN: string }, ctx: OpContext) {
  await resolveResource(ctx, input.ResourceARN);
  if (!(await ctx.streams.deletePolicy(input.ResourceARN))) {
    throw errors.ResourceNotFoundException(`No resource policy found for resource ARN ${input.ResourceARN}.`);
  }
  return undefined;
}
