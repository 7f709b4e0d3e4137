/**
 * Delivery streams as stored in the MetaStore, and the configuration shapes the pipeline reads.
 * Configuration members keep AWS's names (checklist 4.4) so that what CreateDeliveryStream was
 * given is what DescribeDeliveryStream renders.
 */

export const DeliveryStreamStatus = {
  CREATING: 'CREATING',
  CREATING_FAILED: 'CREATING_FAILED',
  DELETING: 'DELETING',
  DELETING_FAILED: 'DELETING_FAILED',
  ACTIVE: 'ACTIVE',
} as const;
export type DeliveryStreamStatus = (typeof DeliveryStreamStatus)[keyof typeof DeliveryStreamStatus];

export const DeliveryStreamType = {
  DirectPut: 'DirectPut',
  KinesisStreamAsSource: 'KinesisStreamAsSource',
  MSKAsSource: 'MSKAsSource',
  DatabaseAsSource: 'DatabaseAsSource',
} as const;
export type DeliveryStreamType = (typeof DeliveryStreamType)[keyof typeof DeliveryStreamType];

/**
 * The destination kinds Eddy delivers to, by the stem of their AWS member names
 * (`<Kind>DestinationConfiguration`, `<Kind>DestinationUpdate`, `<Kind>DestinationDescription`).
 * The deprecated `S3DestinationConfiguration` is stored as ExtendedS3, as AWS describes it.
 */
export const DestinationKind = {
  ExtendedS3: 'ExtendedS3',
  Redshift: 'Redshift',
  Elasticsearch: 'Elasticsearch',
  Amazonopensearchservice: 'Amazonopensearchservice',
  AmazonOpenSearchServerless: 'AmazonOpenSearchServerless',
  Splunk: 'Splunk',
  HttpEndpoint: 'HttpEndpoint',
} as const;
export type DestinationKind = (typeof DestinationKind)[keyof typeof DestinationKind];

export type CompressionFormat = 'UNCOMPRESSED' | 'GZIP' | 'ZIP' | 'Snappy' | 'HADOOP_SNAPPY';

export interface BufferingHints {
  readonly SizeInMBs?: number;
  readonly IntervalInSeconds?: number;
}

export interface ProcessorParameter {
  readonly ParameterName: string;
  readonly ParameterValue: string;
}

export interface Processor {
  readonly Type: string;
  readonly Parameters?: readonly ProcessorParameter[];
}

export interface ProcessingConfiguration {
  readonly Enabled?: boolean;
  readonly Processors?: readonly Processor[];
}

export interface S3Configuration {
  readonly RoleARN: string;
  readonly BucketARN: string;
  readonly Prefix?: string;
  readonly ErrorOutputPrefix?: string;
  readonly BufferingHints?: BufferingHints;
  readonly CompressionFormat?: CompressionFormat;
  readonly EncryptionConfiguration?: Readonly<Record<string, unknown>>;
  readonly CloudWatchLoggingOptions?: Readonly<Record<string, unknown>>;
}

export interface SchemaConfiguration {
  readonly RoleARN?: string;
  readonly CatalogId?: string;
  readonly DatabaseName?: string;
  readonly TableName?: string;
  readonly Region?: string;
  readonly VersionId?: string;
}

export interface DataFormatConversionConfiguration {
  readonly Enabled?: boolean;
  readonly SchemaConfiguration?: SchemaConfiguration;
  readonly InputFormatConfiguration?: {
    readonly Deserializer?: {
      readonly OpenXJsonSerDe?: {
        readonly ConvertDotsInJsonKeysToUnderscores?: boolean;
        readonly CaseInsensitive?: boolean;
        readonly ColumnToJsonKeyMappings?: Readonly<Record<string, string>>;
      };
      readonly HiveJsonSerDe?: { readonly TimestampFormats?: readonly string[] };
    };
  };
  readonly OutputFormatConfiguration?: {
    readonly Serializer?: {
      readonly ParquetSerDe?: { readonly Compression?: 'UNCOMPRESSED' | 'GZIP' | 'SNAPPY' } & Readonly<Record<string, unknown>>;
      readonly OrcSerDe?: Readonly<Record<string, unknown>>;
    };
  };
}

export interface ExtendedS3Configuration extends S3Configuration {
  readonly ProcessingConfiguration?: ProcessingConfiguration;
  readonly S3BackupMode?: 'Disabled' | 'Enabled';
  readonly S3BackupConfiguration?: S3Configuration;
  readonly DataFormatConversionConfiguration?: DataFormatConversionConfiguration;
  readonly DynamicPartitioningConfiguration?: {
    readonly Enabled?: boolean;
    readonly RetryOptions?: { readonly DurationInSeconds?: number };
  };
  readonly FileExtension?: string;
  readonly CustomTimeZone?: string;
}

/** What the destinations other than S3 have in common. */
export interface ServiceDestinationConfiguration {
  readonly S3Configuration: S3Configuration;
  readonly S3BackupMode?: string;
  /** Redshift only: where backed-up source records go. */
  readonly S3BackupConfiguration?: S3Configuration;
  readonly BufferingHints?: BufferingHints;
  readonly RetryOptions?: { readonly DurationInSeconds?: number };
  readonly ProcessingConfiguration?: ProcessingConfiguration;
  readonly [member: string]: unknown;
}

export interface DestinationConfig {
  readonly kind: DestinationKind;
  /** The members of `<kind>DestinationConfiguration`, after updates. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface EncryptionState {
  readonly KeyType: 'AWS_OWNED_CMK' | 'CUSTOMER_MANAGED_CMK';
  readonly KeyARN?: string;
  readonly Status: 'ENABLED' | 'ENABLING' | 'ENABLING_FAILED' | 'DISABLED' | 'DISABLING' | 'DISABLING_FAILED';
  /** When ENABLING/DISABLING settles. */
  readonly dueMs?: number;
}

export interface Tag {
  readonly Key: string;
  readonly Value?: string;
}

/** A delivery stream as persisted under `firehose/stream/<account>/<region>/<name>`. */
export interface DeliveryStreamMeta {
  /** The LogStore streamId of its buffer log (a range Kinesis streams never reach: see service.ts). */
  readonly logId: number;
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  readonly arn: string;
  readonly type: DeliveryStreamType;
  readonly status: DeliveryStreamStatus;
  /** When CREATING becomes ACTIVE, or DELETING removes the stream. */
  readonly dueMs?: number;
  readonly createdMs: number;
  readonly updatedMs?: number;
  /** VersionId, 1 at creation, +1 per UpdateDestination. */
  readonly versionId: number;
  readonly directPut?: { readonly ThroughputHintInMBs?: number };
  readonly kinesisSource?: { readonly KinesisStreamARN: string; readonly RoleARN: string; readonly deliveryStartMs: number };
  readonly destination: DestinationConfig;
  readonly encryption?: EncryptionState;
  /** Times of Start/StopDeliveryStreamEncryption calls, for the 25-per-24-hours limit. */
  readonly encryptionCalls: readonly number[];
  readonly tags: readonly Tag[];
}

/** Where a Kinesis-sourced record came from; kept with the buffered record (Lambda's kinesisRecordMetadata). */
export interface KinesisRecordMetadata {
  readonly shardId: string;
  readonly partitionKey: string;
  readonly approximateArrivalTimestamp: number;
  readonly sequenceNumber: string;
  readonly subsequenceNumber: string;
}

export const MiB = 1024 * 1024;
export const HOUR_MS = 3_600_000;
/** Undelivered DirectPut data is kept this long (checklist 4.3). */
export const RETENTION_MS = 24 * HOUR_MS;
export const FIRST_DESTINATION_ID = 'destinationId-000000000001';
