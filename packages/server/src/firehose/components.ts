/**
 * The pieces the delivery pipeline plugs in: compression (compress.ts), jq (jq.ts), Lambda-style
 * transformation, Parquet conversion with a schema catalog (parquet.ts), and the non-S3
 * destinations. Gathered here so that the pipeline depends on one interface, and tests can
 * substitute any of them.
 */
import { compress, fileExtension } from './compress.js';
import type { DeliveryMeta as DestinationMeta } from './destinations/retry.js';
import type { JqOutcome } from './jq.js';
import type { ConversionFailure, GlueColumn, ParquetOptions, SchemaCatalog } from './parquet.js';
import type { CompressionFormat } from './types.js';

export type { GlueColumn, ParquetOptions, SchemaCatalog } from './parquet.js';

export interface JqProgram {
  /** One outcome per input (a record's JSON text as a Buffer), in order. */
  runAll(inputs: readonly unknown[]): Promise<JqOutcome[]>;
}

export interface TransformRecord {
  readonly recordId: string;
  readonly approximateArrivalTimestamp: number;
  /** base64 */
  readonly data: string;
  readonly kinesisRecordMetadata?: {
    readonly shardId: string;
    readonly partitionKey: string;
    readonly approximateArrivalTimestamp: number;
    readonly sequenceNumber: string;
    readonly subsequenceNumber: string;
  };
}

export interface TransformResult {
  readonly recordId: string;
  readonly result: 'Ok' | 'Dropped' | 'ProcessingFailed';
  readonly data?: string;
  readonly metadata?: { readonly partitionKeys?: Readonly<Record<string, string>> };
  /** Set when the answer broke the contract (Lambda.MissingRecordId, ...). */
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export interface TransformContext {
  readonly deliveryStreamArn: string;
  readonly region: string;
  readonly invocationId: string;
  readonly sourceKinesisStreamArn?: string;
}

export type DeliveryMeta = DestinationMeta;

/**
 * Delivers one batch to a destination other than S3; rejects with a DeliveryError
 * ({ errorCode, retryable, routeToErrorOutput, failures? }). The pipeline passes
 * `retryDurationMs: 0` and schedules retries itself, on the injected clock.
 * Redshift gets the intermediate S3 object's bytes (what its COPY reads).
 */
export type DeliverFunction = (config: Readonly<Record<string, unknown>>, records: readonly Buffer[] | Buffer, meta: DeliveryMeta) => Promise<void>;

export interface ParquetConverter {
  convertToParquet(
    rows: readonly unknown[],
    columns: readonly GlueColumn[],
    options: ParquetOptions,
  ): { parquet: Buffer | undefined; converted: number; failures: ConversionFailure[] };
}

export interface Components {
  compress(format: CompressionFormat, data: Buffer, entryName: string): Buffer;
  fileExtension(format: CompressionFormat): string;
  readonly compileJq?: ((expression: string) => Promise<JqProgram>) | undefined;
  readonly toPartitionKeys?: ((result: unknown) => Record<string, string>) | undefined;
  readonly invokeTransform?: ((functionArn: string, records: TransformRecord[], ctx: TransformContext) => Promise<TransformResult[]>) | undefined;
  /** Loaded on first use: hyparquet-writer costs start-up time that servers without conversions need not pay. */
  readonly parquet?: (() => Promise<ParquetConverter>) | undefined;
  readonly schemaCatalog?: SchemaCatalog | undefined;
  readonly destinations: {
    readonly HttpEndpoint?: DeliverFunction | undefined;
    readonly Splunk?: DeliverFunction | undefined;
    readonly OpenSearch?: DeliverFunction | undefined;
    readonly Redshift?: DeliverFunction | undefined;
  };
}

export interface ComponentOptions {
  /** Glue catalog stand-in (JSON file) for record format conversion. */
  readonly glueCatalog?: string | undefined;
  /** Lambda Invoke API endpoint for transformation functions. */
  readonly lambdaEndpoint?: string | undefined;
  /** Directory of local JavaScript transformation functions. */
  readonly lambdaDir?: string | undefined;
}

/** Imports a module on first use, once. */
function lazy<M>(load: () => Promise<M>): () => Promise<M> {
  let p: Promise<M> | undefined;
  return () => (p ??= load());
}

/**
 * The components this build has. Everything but compression is imported on first use: jq's
 * WebAssembly, hyparquet-writer, pg and the HTTP clients cost start-up time (the server should be
 * listening in well under a second) that a server never using them need not pay.
 */
export async function loadComponents(o: ComponentOptions): Promise<Components> {
  const jq = lazy(() => import('./jq.js'));
  const lambda = lazy(() => import('./lambda.js'));
  const parquet = lazy(() => import('./parquet.js'));
  const http = lazy(() => import('./destinations/http-endpoint.js'));
  const splunk = lazy(() => import('./destinations/splunk.js'));
  const opensearch = lazy(() => import('./destinations/opensearch.js'));
  const redshift = lazy(() => import('./destinations/redshift.js'));
  let keys: ((result: unknown) => Record<string, string>) | undefined;
  // A configured catalog is read (and its column types checked) at start, so a bad file fails fast.
  const schemaCatalog = o.glueCatalog === undefined ? undefined : (await parquet()).loadSchemaCatalog(o.glueCatalog);
  return {
    compress,
    fileExtension,
    compileJq: async (expression) => {
      const m = await jq();
      keys = m.toPartitionKeys;
      return m.compileJq(expression);
    },
    // Only called on results of a program compileJq made, so the module is loaded by then.
    toPartitionKeys: (result) => keys!(result),
    invokeTransform: async (arn, records, ctx) => (await lambda()).invokeTransform(arn, records, { ...ctx, lambdaEndpoint: o.lambdaEndpoint, localFunctions: o.lambdaDir }),
    parquet,
    schemaCatalog,
    destinations: {
      HttpEndpoint: async (config, records, meta) => (await http()).deliverHttpEndpoint(config, records as readonly Buffer[], meta),
      Splunk: async (config, records, meta) => (await splunk()).deliverSplunk(config, records as readonly Buffer[], meta),
      OpenSearch: async (config, records, meta) => (await opensearch()).deliverOpenSearch(config, records as readonly Buffer[], meta),
      Redshift: async (config, input, meta) => (await redshift()).deliverRedshift(config, input, meta),
    },
  };
}
