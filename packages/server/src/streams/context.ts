import type { EventStreamOutput } from '../wire/dispatch.js';
import type { Caller, StreamsService } from './service.js';

/** What every operation receives besides its (decoded, validated) input. */
export interface OpContext {
  readonly caller: Caller;
  readonly requestId: string;
  readonly streams: StreamsService;
  /** Aborted when the client goes away (long-lived calls watch it). */
  readonly signal: AbortSignal;
  /** The request's encoding; streamed events use it too. */
  readonly format: 'json' | 'cbor';
}

export type Output = Record<string, unknown> | EventStreamOutput | undefined;

/** An operation: input members keep AWS's names (`StreamName`, `ShardId`). */
export type Operation<I = Record<string, unknown>> = (input: I, ctx: OpContext) => Promise<Output>;
