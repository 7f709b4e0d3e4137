import type { OpContext } from '../context.js';
import { issueToken, openToken } from './next-token.js';
import { renderModeDetails } from './render.js';

interface Input {
  Limit?: number;
  ExclusiveStartStreamName?: string;
  NextToken?: string;
}

export async function listStreams(input: Input, ctx: OpContext) {
  const svc = ctx.streams;
  let after = input.ExclusiveStartStreamName;
  if (input.NextToken !== undefined) after = openToken<{ after: string }>(svc, 'streams', input.NextToken).after;
  let all = await svc.list(ctx.caller);
  if (after !== undefined) {
    const a = after;
    all = all.filter((s) => s.meta.name > a);
  }
  const limit = Math.min(input.Limit ?? 100, 100);
  const page = all.slice(0, limit);
  const more = all.length > page.length;
  const last = page[page.length - 1];
  return {
    StreamNames: page.map((s) => s.meta.name),
    HasMoreStreams: more,
    ...(more && last ? { NextToken: issueToken(svc, 'streams', { after: last.meta.name }) } : {}),
    StreamSummaries: page.map((s) => ({
      StreamName: s.meta.name,
      StreamARN: s.meta.arn,
      StreamStatus: s.meta.status,
      StreamModeDetails: renderModeDetails(s),
      StreamCreationTimestamp: s.meta.createdMs,
    })),
  };
}
