/**
 * Amazon Data Firehose on Eddy's port (issue 5): AWS JSON 1.1, target prefix Firehose_20150804.
 * `createFirehose` builds the service and the ServiceBinding that src/server.ts registers.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Registry } from '../metrics/index.js';
import type { Storage } from '../storage/types.js';
import type { Operation } from '../streams/context.js';
import { kinesisOperations } from '../streams/index.js';
import type { StreamsService } from '../streams/service.js';
import type { ServiceBinding } from '../wire/dispatch.js';
import { model as firehoseModel } from '../wire/generated/firehose.js';
import { type Components, loadComponents } from './components.js';
import type { FirehoseContext, FirehoseOperation } from './ops/context.js';
import { createDeliveryStream } from './ops/create-delivery-stream.js';
import { deleteDeliveryStream } from './ops/delete-delivery-stream.js';
import { describeDeliveryStream } from './ops/describe-delivery-stream.js';
import { startDeliveryStreamEncryption, stopDeliveryStreamEncryption } from './ops/encryption.js';
import { listDeliveryStreams } from './ops/list-delivery-streams.js';
import { putRecordBatch } from './ops/put-record-batch.js';
import { putRecord } from './ops/put-record.js';
import { listTagsForDeliveryStream, tagDeliveryStream, untagDeliveryStream } from './ops/tags.js';
import { updateDestination } from './ops/update-destination.js';
import { defaultFirehoseOptions, FirehoseService } from './service.js';
import type { KinesisAccess } from './sources/kinesis.js';

export { FirehoseService } from './service.js';
export type { Components } from './components.js';

// Each operation narrows its input type; the table erases it once, here.
const op = <I>(f: (input: I, ctx: FirehoseContext) => Promise<Record<string, unknown> | undefined>) => f as unknown as FirehoseOperation;

/** The Firehose operations, by AWS name (all of the 2026 model's, checklist 4.1). */
export const firehoseOperations: Readonly<Record<string, FirehoseOperation>> = {
  CreateDeliveryStream: op(createDeliveryStream),
  DeleteDeliveryStream: op(deleteDeliveryStream),
  DescribeDeliveryStream: op(describeDeliveryStream),
  ListDeliveryStreams: op(listDeliveryStreams),
  ListTagsForDeliveryStream: op(listTagsForDeliveryStream),
  PutRecord: op(putRecord),
  PutRecordBatch: op(putRecordBatch),
  StartDeliveryStreamEncryption: op(startDeliveryStreamEncryption),
  StopDeliveryStreamEncryption: op(stopDeliveryStreamEncryption),
  TagDeliveryStream: op(tagDeliveryStream),
  UntagDeliveryStream: op(untagDeliveryStream),
  UpdateDestination: op(updateDestination),
};

/** Data Streams operations invoked in-process, as the wire would invoke them. */
export function kinesisAccess(streams: StreamsService, operations: Readonly<Record<string, Operation>> = kinesisOperations): KinesisAccess {
  return {
    async call(operation, input, caller) {
      const f = operations[operation];
      if (f === undefined) throw new Error(`no Kinesis operation ${operation}`);
      const out = await f(input, { caller, requestId: randomUUID(), streams, signal: new AbortController().signal, format: 'json' });
      return (out ?? {}) as Record<string, unknown>;
    },
  };
}

export interface FirehoseSetup {
  readonly clock: Clock;
  readonly stateDelayMs: number;
  readonly throttle: boolean;
  readonly dataDir: string;
  /** Local bucket directory; `<dataDir>/s3` when unset. */
  readonly s3Dir?: string | undefined;
  readonly s3Endpoint?: string | undefined;
  readonly s3Region?: string | undefined;
  readonly s3AccessKeyId?: string | undefined;
  readonly s3SecretAccessKey?: string | undefined;
  readonly s3ForcePathStyle?: boolean | undefined;
  readonly glueCatalog?: string | undefined;
  readonly lambdaEndpoint?: string | undefined;
  readonly lambdaDir?: string | undefined;
  readonly log: (line: string) => void;
  /** Substitutes for components (tests). */
  readonly components?: Partial<Components> | undefined;
}

/** The Firehose service of a server and its binding for the wire's front door. */
export async function createFirehose(
  storage: Storage,
  streams: StreamsService,
  metrics: Registry,
  o: FirehoseSetup,
): Promise<{ service: FirehoseService; binding: ServiceBinding }> {
  const kinesis = kinesisAccess(streams);
  const service = new FirehoseService(storage, {
    clock: o.clock,
    stateDelayMs: o.stateDelayMs,
    throttle: o.throttle,
    s3: {
      dir: o.s3Dir ?? join(o.dataDir, 's3'),
      endpoint: o.s3Endpoint,
      region: o.s3Region,
      accessKeyId: o.s3AccessKeyId,
      secretAccessKey: o.s3SecretAccessKey,
      forcePathStyle: o.s3ForcePathStyle,
    },
    kinesis,
    components: { ...(await loadComponents({ glueCatalog: o.glueCatalog, lambdaEndpoint: o.lambdaEndpoint, lambdaDir: o.lambdaDir })), ...o.components },
    metrics,
    log: o.log,
    ...defaultFirehoseOptions,
  });
  const binding: ServiceBinding = {
    model: firehoseModel,
    serves: (operation) => operation in firehoseOperations,
    invoke: async (inv) => {
      const f = firehoseOperations[inv.operation];
      if (!f) throw new Error(`unserved operation ${inv.operation}`);
      return f(inv.input, { caller: inv.caller, requestId: inv.requestId, firehose: service, kinesis });
    },
  };
  return { service, binding };
}
