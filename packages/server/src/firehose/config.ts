/**
 * Destination configurations: which one a request names, the rules AWS applies to them beyond the
 * model's constraints (checklist 4.4 to 4.7), UpdateDestination's merge, and how
 * DescribeDeliveryStream renders them with AWS's defaults filled in.
 */
import { firehoseErrors } from './errors.js';
import { checkTimeZone, parsePrefix, type ParsedPrefix } from './prefix.js';
import {
  type BufferingHints,
  type DestinationConfig,
  DestinationKind,
  type ExtendedS3Configuration,
  MiB,
  type ProcessingConfiguration,
  type S3Configuration,
  type ServiceDestinationConfiguration,
} from './types.js';

const invalid = firehoseErrors.InvalidArgumentException;

/** CreateDeliveryStream members naming a destination, and the kind each is stored as. */
const CREATE_MEMBERS: Readonly<Record<string, DestinationKind | 'unsupported'>> = {
  S3DestinationConfiguration: DestinationKind.ExtendedS3,
  ExtendedS3DestinationConfiguration: DestinationKind.ExtendedS3,
  RedshiftDestinationConfiguration: DestinationKind.Redshift,
  ElasticsearchDestinationConfiguration: DestinationKind.Elasticsearch,
  AmazonopensearchserviceDestinationConfiguration: DestinationKind.Amazonopensearchservice,
  AmazonOpenSearchServerlessDestinationConfiguration: DestinationKind.AmazonOpenSearchServerless,
  SplunkDestinationConfiguration: DestinationKind.Splunk,
  HttpEndpointDestinationConfiguration: DestinationKind.HttpEndpoint,
  SnowflakeDestinationConfiguration: 'unsupported',
  IcebergDestinationConfiguration: 'unsupported',
};

const UPDATE_MEMBERS: Readonly<Record<string, DestinationKind | 'unsupported'>> = {
  S3DestinationUpdate: DestinationKind.ExtendedS3,
  ExtendedS3DestinationUpdate: DestinationKind.ExtendedS3,
  RedshiftDestinationUpdate: DestinationKind.Redshift,
  ElasticsearchDestinationUpdate: DestinationKind.Elasticsearch,
  AmazonopensearchserviceDestinationUpdate: DestinationKind.Amazonopensearchservice,
  AmazonOpenSearchServerlessDestinationUpdate: DestinationKind.AmazonOpenSearchServerless,
  SplunkDestinationUpdate: DestinationKind.Splunk,
  HttpEndpointDestinationUpdate: DestinationKind.HttpEndpoint,
  SnowflakeDestinationUpdate: 'unsupported',
  IcebergDestinationUpdate: 'unsupported',
};

/** Members each kind needs when UpdateDestination switches to it (the Create shapes' required lists). */
const REQUIRED: Readonly<Record<DestinationKind, readonly string[]>> = {
  ExtendedS3: ['RoleARN', 'BucketARN'],
  Redshift: ['RoleARN', 'ClusterJDBCURL', 'CopyCommand', 'S3Configuration'],
  Elasticsearch: ['RoleARN', 'IndexName', 'S3Configuration'],
  Amazonopensearchservice: ['RoleARN', 'IndexName', 'S3Configuration'],
  AmazonOpenSearchServerless: ['RoleARN', 'IndexName', 'S3Configuration'],
  Splunk: ['HECEndpoint', 'HECEndpointType', 'S3Configuration'],
  HttpEndpoint: ['EndpointConfiguration', 'S3Configuration'],
};

const OPENSEARCH_KINDS: ReadonlySet<DestinationKind> = new Set([
  DestinationKind.Elasticsearch,
  DestinationKind.Amazonopensearchservice,
  DestinationKind.AmazonOpenSearchServerless,
]);

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The one destination a CreateDeliveryStream request configures. */
export function destinationFromCreate(input: Obj): DestinationConfig {
  const given = Object.keys(CREATE_MEMBERS).filter((k) => input[k] !== undefined);
  if (given.length !== 1) throw invalid('Exactly one destination configuration is supported for a Firehose');
  const member = given[0]!;
  const kind = CREATE_MEMBERS[member]!;
  if (kind === 'unsupported') throw invalid(`${member.replace(/DestinationConfiguration$/, '')} destinations are not supported by this endpoint.`);
  return { kind, config: input[member] as Obj };
}

// ------------------------------------------------------------------------------------ validation

export interface ValidationContext {
  readonly deliveryStreamType: string;
}

/** The checks AWS makes on a destination beyond the model (checklist 4.4, 4.6, 4.7). */
export function validateDestination(d: DestinationConfig, _ctx: ValidationContext): void {
  if (d.kind === DestinationKind.ExtendedS3) {
    validateExtendedS3(d.config as unknown as ExtendedS3Configuration);
    return;
  }
  const c = d.config as ServiceDestinationConfiguration;
  if (!isObj(c.S3Configuration)) throw invalid(`S3Configuration is required for ${d.kind} destinations.`);
  if (d.kind === DestinationKind.Redshift) {
    const fmt = c.S3Configuration.CompressionFormat;
    if (fmt === 'Snappy' || fmt === 'ZIP' || fmt === 'HADOOP_SNAPPY') {
      throw invalid(`CompressionFormat ${fmt} is not supported for Redshift destinations: the Redshift COPY command cannot read it.`);
    }
    const p = parsePrefix(c.S3Configuration.Prefix ?? '', 'Prefix');
    if (p.hasExpressions) throw invalid('Prefix must not contain expressions when the destination is Amazon Redshift.');
    if (c.S3Configuration.ErrorOutputPrefix) throw invalid('ErrorOutputPrefix must be null when the destination is Amazon Redshift.');
    if (c.S3BackupMode === 'Enabled' && !isObj(c.S3BackupConfiguration)) throw invalid('S3BackupConfiguration is required when S3BackupMode is Enabled.');
  } else {
    validateS3Prefixes(c.S3Configuration, { dynamicPartitioning: false });
  }
  validateProcessing(c.ProcessingConfiguration, { dynamicPartitioning: false });
}

function validateExtendedS3(c: ExtendedS3Configuration): void {
  const dp = c.DynamicPartitioningConfiguration?.Enabled === true;
  const { prefix } = validateS3Prefixes(c, { dynamicPartitioning: dp });
  const processors = enabledProcessors(c.ProcessingConfiguration);
  validateProcessing(c.ProcessingConfiguration, { dynamicPartitioning: dp });
  if (prefix.queryKeys.length > 0 && !processors.some((p) => p.Type === 'MetadataExtraction')) {
    throw invalid('Prefix uses !{partitionKeyFromQuery:...} but no MetadataExtraction processor is configured.');
  }
  if (prefix.lambdaKeys.length > 0 && !processors.some((p) => p.Type === 'Lambda')) {
    throw invalid('Prefix uses !{partitionKeyFromLambda:...} but no Lambda processor is configured.');
  }
  if (dp) {
    if (prefix.queryKeys.length === 0 && prefix.lambdaKeys.length === 0) {
      throw invalid('When dynamic partitioning is enabled, Prefix must contain at least one !{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...} expression.');
    }
    if ((c.BufferingHints?.SizeInMBs ?? 64) < 64) {
      throw invalid('BufferingHints.SizeInMBs must be at least 64 when dynamic partitioning is enabled.');
    }
  }
  const conv = c.DataFormatConversionConfiguration;
  if (conv !== undefined && conv.Enabled !== false) {
    if ((c.CompressionFormat ?? 'UNCOMPRESSED') !== 'UNCOMPRESSED') {
      throw invalid('CompressionFormat must be UNCOMPRESSED when data format conversion is enabled; set the serializer\'s compression instead.');
    }
    if ((c.BufferingHints?.SizeInMBs ?? 64) < 64) {
      throw invalid('BufferingHints.SizeInMBs must be at least 64 when data format conversion is enabled.');
    }
    const schema = conv.SchemaConfiguration;
    if (!schema?.DatabaseName || !schema.TableName) {
      throw invalid('DataFormatConversionConfiguration.SchemaConfiguration needs DatabaseName and TableName.');
    }
    const ser = conv.OutputFormatConfiguration?.Serializer;
    if (ser === undefined || (ser.ParquetSerDe === undefined) === (ser.OrcSerDe === undefined)) {
      throw invalid('OutputFormatConfiguration.Serializer must name exactly one of ParquetSerDe and OrcSerDe.');
    }
    if (ser.OrcSerDe !== undefined) throw invalid('OrcSerDe output is not supported by this endpoint; use ParquetSerDe.');
    const de = conv.InputFormatConfiguration?.Deserializer;
    if (de === undefined || (de.OpenXJsonSerDe === undefined) === (de.HiveJsonSerDe === undefined)) {
      throw invalid('InputFormatConfiguration.Deserializer must name exactly one of OpenXJsonSerDe and HiveJsonSerDe.');
    }
  }
  if (c.S3BackupMode === 'Enabled') {
    if (!isObj(c.S3BackupConfiguration)) throw invalid('S3BackupConfiguration is required when S3BackupMode is Enabled.');
    validateS3Prefixes(c.S3BackupConfiguration, { dynamicPartitioning: false, backup: true });
  }
  if (c.CustomTimeZone) checkTimeZone(c.CustomTimeZone);
}

/** The prefix rules (developer guide "Semantic rules"). */
function validateS3Prefixes(c: S3Configuration, o: { dynamicPartitioning: boolean; backup?: boolean }): { prefix: ParsedPrefix } {
  const prefix = parsePrefix(c.Prefix ?? '', 'Prefix');
  if (prefix.hasErrorType) throw invalid('Prefix cannot contain !{firehose:error-output-type}; it can only be used in ErrorOutputPrefix.');
  if (!o.dynamicPartitioning && (prefix.queryKeys.length > 0 || prefix.lambdaKeys.length > 0)) {
    throw invalid('Prefix can use !{partitionKeyFromQuery:...} and !{partitionKeyFromLambda:...} only when dynamic partitioning is enabled.');
  }
  if (o.backup) return { prefix };
  const errSource = c.ErrorOutputPrefix ?? '';
  const err = parsePrefix(errSource, 'ErrorOutputPrefix');
  if (errSource === '' && (prefix.hasExpressions || o.dynamicPartitioning)) {
    throw invalid('ErrorOutputPrefix cannot be null or empty when Prefix contains expressions or dynamic partitioning is enabled.');
  }
  if (err.hasExpressions && !err.hasErrorType) {
    throw invalid('ErrorOutputPrefix must contain at least one !{firehose:error-output-type} expression when it contains expressions.');
  }
  if (err.queryKeys.length > 0 || err.lambdaKeys.length > 0) {
    throw invalid('ErrorOutputPrefix cannot contain !{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...}.');
  }
  return { prefix };
}

export function enabledProcessors(p: ProcessingConfiguration | undefined): readonly { Type: string; params: Readonly<Record<string, string>> }[] {
  if (p === undefined || p.Enabled === false) return [];
  return (p.Processors ?? []).map((x) => ({
    Type: x.Type,
    params: Object.fromEntries((x.Parameters ?? []).map((q) => [q.ParameterName, q.ParameterValue])),
  }));
}

function validateProcessing(p: ProcessingConfiguration | undefined, o: { dynamicPartitioning: boolean }): void {
  for (const x of enabledProcessors(p)) {
    switch (x.Type) {
      case 'Lambda':
        if (!x.params.LambdaArn) throw invalid('The Lambda processor needs a LambdaArn parameter.');
        if (x.params.NumberOfRetries !== undefined && !/^\d+$/.test(x.params.NumberOfRetries)) {
          throw invalid(`NumberOfRetries must be a whole number, got ${x.params.NumberOfRetries}.`);
        }
        break;
      case 'MetadataExtraction':
        if (!o.dynamicPartitioning) throw invalid('The MetadataExtraction processor can be used only when dynamic partitioning is enabled.');
        if (!x.params.MetadataExtractionQuery) throw invalid('The MetadataExtraction processor needs a MetadataExtractionQuery parameter.');
        if (x.params.JsonParsingEngine !== undefined && x.params.JsonParsingEngine !== 'JQ-1.6') {
          throw invalid(`JsonParsingEngine ${x.params.JsonParsingEngine} is not supported; only JQ-1.6 is.`);
        }
        break;
      case 'RecordDeAggregation':
        if (x.params.SubRecordType !== undefined && x.params.SubRecordType !== 'JSON' && x.params.SubRecordType !== 'DELIMITED') {
          throw invalid(`SubRecordType must be JSON or DELIMITED, got ${x.params.SubRecordType}.`);
        }
        break;
      case 'Decompression':
        if (x.params.CompressionFormat !== undefined && x.params.CompressionFormat !== 'GZIP') {
          throw invalid(`The Decompression processor supports CompressionFormat GZIP only, got ${x.params.CompressionFormat}.`);
        }
        break;
      case 'AppendDelimiterToRecord':
      case 'CloudWatchLogProcessing':
        break;
      default:
        throw invalid(`Processor type ${x.Type} is not supported.`);
    }
  }
}

// ------------------------------------------------------------------------------------ updates

/** The one destination update an UpdateDestination request carries, applied to the current one. */
export function applyUpdate(current: DestinationConfig, input: Obj): DestinationConfig {
  const given = Object.keys(UPDATE_MEMBERS).filter((k) => input[k] !== undefined);
  if (given.length !== 1) throw invalid('Exactly one destination update must be specified.');
  const member = given[0]!;
  const kind = UPDATE_MEMBERS[member]!;
  if (kind === 'unsupported') throw invalid(`${member.replace(/DestinationUpdate$/, '')} destinations are not supported by this endpoint.`);
  const update = renameUpdate(input[member] as Obj);
  if (kind === current.kind) {
    const merged = deepMerge(current.config, update);
    if (kind === DestinationKind.ExtendedS3) {
      const before = current.config as unknown as ExtendedS3Configuration;
      const after = merged as unknown as ExtendedS3Configuration;
      if ((before.DynamicPartitioningConfiguration?.Enabled === true) !== (after.DynamicPartitioningConfiguration?.Enabled === true)) {
        throw invalid('Dynamic partitioning cannot be enabled or disabled on an existing Firehose stream.');
      }
      if (before.S3BackupMode === 'Enabled' && after.S3BackupMode === 'Disabled') {
        throw invalid('S3BackupMode cannot be disabled once it has been enabled.');
      }
    }
    return { kind, config: merged };
  }
  // A different type replaces the destination: everything its Create shape requires must be given.
  if (OPENSEARCH_KINDS.has(kind) !== OPENSEARCH_KINDS.has(current.kind)) {
    throw invalid(`Changing the destination type to or from Amazon OpenSearch Service is not supported (from ${current.kind} to ${kind}).`);
  }
  if (current.kind === DestinationKind.ExtendedS3 && (current.config as unknown as ExtendedS3Configuration).DynamicPartitioningConfiguration?.Enabled === true) {
    throw invalid('A Firehose stream with dynamic partitioning enabled cannot change its destination type.');
  }
  const missing = REQUIRED[kind].filter((k) => update[k] === undefined);
  if (missing.length > 0) throw invalid(`Changing the destination type to ${kind} requires ${missing.join(', ')}.`);
  return { kind, config: update };
}

function renameUpdate(u: Obj): Obj {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(u)) {
    if (k === 'S3Update') out.S3Configuration = v;
    else if (k === 'S3BackupUpdate') out.S3BackupConfiguration = v;
    else out[k] = v;
  }
  return out;
}

/** Members given replace, nested structures merge member by member, lists replace. */
function deepMerge(base: Obj, update: Obj): Obj {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(update)) {
    const b = out[k];
    out[k] = isObj(b) && isObj(v) ? deepMerge(b, v) : v;
  }
  return out;
}

// ------------------------------------------------------------------------------------ effective settings

/** Buffering defaults and ranges per destination (checklist 4.4, 4.5). */
export function effectiveBuffering(d: DestinationConfig): { readonly sizeBytes: number; readonly intervalMs: number } {
  const c = d.config as unknown as { BufferingHints?: BufferingHints } & ExtendedS3Configuration;
  let defSize = 5;
  let defInterval = 300;
  if (d.kind === DestinationKind.Splunk) defInterval = 60;
  if (d.kind === DestinationKind.ExtendedS3) {
    const dp = c.DynamicPartitioningConfiguration?.Enabled === true;
    const conv = c.DataFormatConversionConfiguration !== undefined && c.DataFormatConversionConfiguration.Enabled !== false;
    if (dp || conv) defSize = 128;
  }
  const hints = d.kind === DestinationKind.Redshift ? (c as unknown as ServiceDestinationConfiguration).S3Configuration.BufferingHints : c.BufferingHints;
  return {
    sizeBytes: (hints?.SizeInMBs ?? defSize) * MiB,
    intervalMs: (hints?.IntervalInSeconds ?? defInterval) * 1000,
  };
}

/** RetryOptions.DurationInSeconds with each destination's default (checklist 4.4). */
export function retryDurationMs(d: DestinationConfig): number {
  const c = d.config as { RetryOptions?: { DurationInSeconds?: number } };
  const def = d.kind === DestinationKind.Splunk || d.kind === DestinationKind.Redshift ? 3600 : 300;
  return (c.RetryOptions?.DurationInSeconds ?? def) * 1000;
}

/** The S3 configuration of the bucket a destination writes objects to (its own, or the intermediate/backup one). */
export function s3ConfigOf(d: DestinationConfig): S3Configuration {
  if (d.kind === DestinationKind.ExtendedS3) return d.config as unknown as S3Configuration;
  return (d.config as ServiceDestinationConfiguration).S3Configuration;
}

// ------------------------------------------------------------------------------------ description

const NO_ENCRYPTION = { NoEncryptionConfig: 'NoEncryption' };
const NO_LOGGING = { Enabled: false };

function describeS3(c: S3Configuration, defaults: BufferingHints = { SizeInMBs: 5, IntervalInSeconds: 300 }): Obj {
  return {
    RoleARN: c.RoleARN,
    BucketARN: c.BucketARN,
    Prefix: c.Prefix,
    ErrorOutputPrefix: c.ErrorOutputPrefix,
    BufferingHints: { ...defaults, ...c.BufferingHints },
    CompressionFormat: c.CompressionFormat ?? 'UNCOMPRESSED',
    EncryptionConfiguration: c.EncryptionConfiguration ?? NO_ENCRYPTION,
    CloudWatchLoggingOptions: c.CloudWatchLoggingOptions ?? NO_LOGGING,
  };
}

/** A DestinationDescription (without its DestinationId) as DescribeDeliveryStream renders it. */
export function describeDestination(d: DestinationConfig): Record<string, unknown> {
  const eff = effectiveBuffering(d);
  const hints = { SizeInMBs: eff.sizeBytes / MiB, IntervalInSeconds: eff.intervalMs / 1000 };
  if (d.kind === DestinationKind.ExtendedS3) {
    const c = d.config as unknown as ExtendedS3Configuration;
    const base = describeS3(c, hints);
    const ext: Record<string, unknown> = {
      ...base,
      ProcessingConfiguration: c.ProcessingConfiguration,
      S3BackupMode: c.S3BackupMode ?? 'Disabled',
      S3BackupDescription: c.S3BackupConfiguration ? describeS3(c.S3BackupConfiguration) : undefined,
      DataFormatConversionConfiguration: c.DataFormatConversionConfiguration,
      DynamicPartitioningConfiguration: c.DynamicPartitioningConfiguration,
      FileExtension: c.FileExtension,
      CustomTimeZone: c.CustomTimeZone,
    };
    // AWS describes an S3 destination both ways.
    return { S3DestinationDescription: base, ExtendedS3DestinationDescription: ext };
  }
  const c = d.config as ServiceDestinationConfiguration;
  const desc: Record<string, unknown> = { ...c };
  delete desc.S3Configuration;
  delete desc.S3BackupConfiguration;
  delete desc.VpcConfiguration;
  desc.S3DestinationDescription = describeS3(c.S3Configuration);
  if (c.S3BackupConfiguration) desc.S3BackupDescription = describeS3(c.S3BackupConfiguration);
  if (d.kind !== DestinationKind.Redshift) desc.BufferingHints = hints;
  desc.RetryOptions = { DurationInSeconds: retryDurationMs(d) / 1000 };
  desc.CloudWatchLoggingOptions = c.CloudWatchLoggingOptions ?? NO_LOGGING;
  desc.S3BackupMode = c.S3BackupMode ?? defaultBackupMode(d.kind);
  return { [`${d.kind}DestinationDescription`]: desc };
}

function defaultBackupMode(kind: DestinationKind): string {
  switch (kind) {
    case DestinationKind.Splunk:
      return 'FailedEventsOnly';
    case DestinationKind.HttpEndpoint:
      return 'FailedDataOnly';
    case DestinationKind.Redshift:
      return 'Disabled';
    default:
      return 'FailedDocumentsOnly';
  }
}
