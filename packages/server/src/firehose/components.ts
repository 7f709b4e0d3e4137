/**
 * The pieces the delivery pipeline plugs in: compression (compress.ts), jq (jq.ts), Lambda-style
 * transformation, Parquet conversion with a schema catalog (parquet.ts), and the non-S3
 * destinations. Gathered here so that the pipeline depends on one interface, and tests can
 * substitute any of them.
 */
import { compress, fileExtension } from './compress.js';
import { deliverHttpEndpoint } from './destinations/http-endpoint.js';
import { deliverOpenSearch } from './destinations/opensearch.js';
import type { DeliveryMeta as DestinationMeta } from './destinations/retry.js';
import { deliverSplunk } from './destinations/splunk.js';
import { compileJq, type JqOutcome, toPartitionKeys } from './jq.js';
import { invokeTransform } from './lambda.js';
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

/** The components this build has. */
export async function loadComponents(o: ComponentOptions): Promise<Components> {
  let parquet: Promise<ParquetConverter> | undefined;
  const parquetModule = () => (parquet ??= import('./parquet.js'));
  // A configured catalog is read (and its column types checked) at start, so a bad file fails fast.
  const schemaCatalog = o.glueCatalog === undefined ? undefined : (await import('./parquet.js')).loadSchemaCatalog(o.glueCatalog);
  // pg is loaded by the Redshift destination on first use.
  let redshift: Promise<typeof import('./destinations/redshift.js')> | undefined;
  return {
    compress,
    fileExtension,
    compileJq,
    toPartitionKeys,
    invokeTransform: (arn, records, ctx) => invokeTransform(arn, records, { ...ctx, lambdaEndpoint: o.lambdaEndpoint, localFunctions: o.lambdaDir }),
    parquet: parquetModule,
    schemaCatalog,
    destinations: {
      HttpEndpoint: (config, records, meta) => deliverHttpEndpoint(config, records as readonly Buffer[], meta),
      Splunk: (config, records, meta) => deliverSplunk(config, records as readonly Buffer[], meta),
      OpenSearch: (config, records, meta) => deliverOpenSearch(config, records as readonly Buffer[], meta),
      Redshift: async (config, input, meta) => (await (redshift ??= import('./destinations/redshift.js'))).deliverRedshift(config, input, meta),
    },
  };
}
