/**
 * A delivery plan: everything the pipeline needs to know about one version of a delivery stream's
 * configuration, worked out once per version (prefixes parsed, defaults applied, components
 * chosen). Buffers keep the plan they were filled under, so that an UpdateDestination never
 * re-labels data that was already buffered (checklist 4.2: "takes effect within a few minutes").
 */
import type { Components, DeliverFunction, GlueColumn, ParquetOptions } from './components.js';
import { effectiveBuffering, retryDurationMs } from './config.js';
import { bucketOf } from './destinations/s3.js';
import type { DeliveryMetric } from './metrics.js';
import { deliveryPrefix, errorPrefix, type ErrorOutputType, type PrefixPart } from './prefix.js';
import { ProcessorChain, type ProcessingContext } from './processing.js';
import {
  type CompressionFormat,
  type DataFormatConversionConfiguration,
  type DeliveryStreamMeta,
  DestinationKind,
  type ExtendedS3Configuration,
  type S3Configuration,
  type ServiceDestinationConfiguration,
} from './types.js';

export interface S3Target {
  readonly bucket: string;
  readonly prefix: readonly PrefixPart[];
  readonly errorPrefix: readonly PrefixPart[];
  readonly compression: CompressionFormat;
  /** Extension of delivered objects (FileExtension, `.parquet`, or the compression's). */
  readonly extension: string;
  /** Extension of error-output objects (compression only). */
  readonly errorExtension: string;
}

export interface Conversion {
  /** The Glue table's columns, or why there are none. */
  readonly columns: readonly GlueColumn[] | { readonly code: string; readonly error: string };
  readonly options: ParquetOptions;
  readonly config: DataFormatConversionConfiguration;
}

export interface Plan {
  readonly meta: DeliveryStreamMeta;
  readonly kind: DestinationKind;
  readonly sizeBytes: number;
  readonly intervalMs: number;
  readonly timeZone: string;
  /** S3 destinations: the bucket; others: the S3Configuration bucket (errors, backups, Redshift's intermediate files). */
  readonly target: S3Target;
  /** Raw source records copied here too (S3BackupMode Enabled / All*). */
  readonly backup: { readonly target: S3Target; readonly sizeBytes: number; readonly intervalMs: number } | undefined;
  readonly processors: ProcessorChain;
  readonly conversion: Conversion | undefined;
  readonly dynamicPartitioning: boolean;
  readonly queryKeys: readonly string[];
  readonly lambdaKeys: readonly string[];
  /** Non-S3 destinations. */
  readonly deliver: DeliverFunction | undefined;
  readonly retryMs: number;
  readonly family: DeliveryMetric;
  /** error-output-type of records the destination refused for good. */
  readonly failureType: ErrorOutputType;
}

const FAMILY: Readonly<Record<DestinationKind, DeliveryMetric>> = {
  ExtendedS3: 'DeliveryToS3',
  Redshift: 'DeliveryToRedshift',
  Elasticsearch: 'DeliveryToElasticsearch',
  Amazonopensearchservice: 'DeliveryToAmazonOpenSearchService',
  AmazonOpenSearchServerless: 'DeliveryToAmazonOpenSearchServerless',
  Splunk: 'DeliveryToSplunk',
  HttpEndpoint: 'DeliveryToHttpEndpoint',
};

const FAILURE: Readonly<Record<DestinationKind, ErrorOutputType>> = {
  ExtendedS3: 'processing-failed',
  Redshift: 'redshift-failed',
  Elasticsearch: 'elasticsearch-failed',
  Amazonopensearchservice: 'AmazonOpenSearchService-failed',
  AmazonOpenSearchServerless: 'AmazonOpenSearchServerless-failed',
  Splunk: 'splunk-failed',
  HttpEndpoint: 'http-endpoint-failed',
};

function s3Target(c: S3Configuration, components: Components, extension?: string): S3Target {
  const compression = c.CompressionFormat ?? 'UNCOMPRESSED';
  const ext = components.fileExtension(compression);
  return {
    bucket: bucketOf(c.BucketARN),
    prefix: deliveryPrefix(c.Prefix),
    errorPrefix: errorPrefix(c.Prefix, c.ErrorOutputPrefix),
    compression,
    extension: extension ?? ext,
    errorExtension: ext,
  };
}

export function buildPlan(meta: DeliveryStreamMeta, components: Components, ctx: Omit<ProcessingContext, 'components'>): Plan {
  const d = meta.destination;
  const { sizeBytes, intervalMs } = effectiveBuffering(d);
  const base = {
    meta,
    kind: d.kind,
    sizeBytes,
    intervalMs,
    retryMs: retryDurationMs(d),
    family: FAMILY[d.kind],
    failureType: FAILURE[d.kind],
  };
  if (d.kind === DestinationKind.ExtendedS3) {
    const c = d.config as unknown as ExtendedS3Configuration;
    const conv = c.DataFormatConversionConfiguration;
    const converting = conv !== undefined && conv.Enabled !== false;
    const conversion = converting ? conversionOf(conv, components) : undefined;
    const extension = c.FileExtension ? c.FileExtension : converting ? '.parquet' : undefined;
    const prefix = deliveryPrefix(c.Prefix);
    const dp = c.DynamicPartitioningConfiguration?.Enabled === true;
    return {
      ...base,
      timeZone: c.CustomTimeZone || 'UTC',
      target: s3Target(c, components, extension),
      backup:
        c.S3BackupMode === 'Enabled' && c.S3BackupConfiguration !== undefined
          ? { target: s3Target(c.S3BackupConfiguration, components), ...effectiveBuffering({ kind: DestinationKind.ExtendedS3, config: c.S3BackupConfiguration as unknown as Record<string, unknown> }) }
          : undefined,
      processors: new ProcessorChain(c.ProcessingConfiguration, { ...ctx, components }),
      conversion,
      dynamicPartitioning: dp,
      queryKeys: dp ? prefix.flatMap((p) => (p.kind === 'query' ? [p.key] : [])) : [],
      lambdaKeys: dp ? prefix.flatMap((p) => (p.kind === 'lambda' ? [p.key] : [])) : [],
      deliver: undefined,
    };
  }
  const c = d.config as ServiceDestinationConfiguration;
  const mode = c.S3BackupMode ?? '';
  const allToBackup = mode === 'AllData' || mode === 'AllEvents' || mode === 'AllDocuments';
  const redshiftBackup = d.kind === DestinationKind.Redshift && mode === 'Enabled' && c.S3BackupConfiguration !== undefined;
  const backupConfig = redshiftBackup ? c.S3BackupConfiguration! : allToBackup ? c.S3Configuration : undefined;
  return {
    ...base,
    timeZone: 'UTC',
    target: s3Target(c.S3Configuration, components),
    backup:
      backupConfig !== undefined
        ? { target: s3Target(backupConfig, components), ...effectiveBuffering({ kind: DestinationKind.ExtendedS3, config: backupConfig as unknown as Record<string, unknown> }) }
        : undefined,
    processors: new ProcessorChain(c.ProcessingConfiguration, { ...ctx, components }),
    conversion: undefined,
    dynamicPartitioning: false,
    queryKeys: [],
    lambdaKeys: [],
    deliver: deliverFunction(d.kind, components),
  };
}

function deliverFunction(kind: DestinationKind, components: Components): DeliverFunction | undefined {
  switch (kind) {
    case DestinationKind.HttpEndpoint:
      return components.destinations.HttpEndpoint;
    case DestinationKind.Splunk:
      return components.destinations.Splunk;
    case DestinationKind.Redshift:
      return components.destinations.Redshift;
    case DestinationKind.Elasticsearch:
    case DestinationKind.Amazonopensearchservice:
    case DestinationKind.AmazonOpenSearchServerless:
      return components.destinations.OpenSearch;
    default:
      return undefined;
  }
}

function conversionOf(conv: DataFormatConversionConfiguration, components: Components): Conversion {
  const s = conv.SchemaConfiguration ?? {};
  const serde = conv.OutputFormatConfiguration?.Serializer?.ParquetSerDe ?? {};
  const deserializer = conv.InputFormatConfiguration?.Deserializer;
  const options: ParquetOptions = {
    compression: serde.Compression ?? 'SNAPPY',
    ...(deserializer !== undefined ? { deserializer: deserializer as NonNullable<ParquetOptions['deserializer']> } : {}),
    ...(typeof serde.EnableDictionaryCompression === 'boolean' ? { enableDictionaryCompression: serde.EnableDictionaryCompression } : {}),
    ...(typeof serde.PageSizeBytes === 'number' ? { pageSizeBytes: serde.PageSizeBytes } : {}),
  };
  let columns: Conversion['columns'];
  if (components.parquet === undefined) columns = { code: 'DataFormatConversion.NotAvailable', error: 'Parquet conversion is not available on this server.' };
  else {
    const t = components.schemaCatalog?.table(s.DatabaseName ?? '', s.TableName ?? '', s.CatalogId);
    columns = t ?? {
      code: 'DataFormatConversion.EntityNotFound',
      error: `Table ${s.DatabaseName ?? ''}.${s.TableName ?? ''} was not found in the Glue catalog${components.schemaCatalog === undefined ? ' (no catalog is configured: --glue-catalog)' : ''}.`,
    };
  }
  return { columns, options, config: conv };
}
