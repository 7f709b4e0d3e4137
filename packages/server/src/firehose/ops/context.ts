import type { FirehoseService } from '../service.js';
import type { KinesisAccess } from '../sources/kinesis.js';

/** What every Firehose operation receives besides its (decoded, validated) input. */
export interface FirehoseContext {
  readonly caller: { readonly accountId: string; readonly region: string };
  readonly requestId: string;
  readonly firehose: FirehoseService;
  readonly kinesis: KinesisAccess;
}

export type FirehoseOperation<I = Record<string, unknown>> = (input: I, ctx: FirehoseContext) => Promise<Record<string, unknown> | undefined>;
