import { errors } from '../../core/errors.js';
import type { StreamsService } from '../service.js';

/** NextTokens expire after 300 s (checklist 1.15). */
export const NEXT_TOKEN_TTL_MS = 300_000;

export function issueToken(svc: StreamsService, kind: string, state: Record<string, unknown>): string {
  return svc.tokens.seal({ k: kind, t: svc.clock.now(), ...state });
}

export function openToken<T extends Record<string, unknown>>(svc: StreamsService, kind: string, token: string): T {
  const v = svc.tokens.open(token);
  if (typeof v !== 'object' || v === null || (v as { k?: unknown }).k !== kind) {
    throw errors.InvalidArgumentException(`Invalid NextToken.`);
  }
  const t = (v as { t?: unknown }).t;
  if (typeof t !== 'number' || svc.clock.now() - t > NEXT_TOKEN_TTL_MS) {
    throw errors.ExpiredNextTokenException(`The specified NextToken has expired.`);
  }
  return v as T;
}
