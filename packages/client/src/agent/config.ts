// The Kinesis Agent's configuration file (/etc/aws-kinesis/agent.json): keys, defaults and valid
// ranges as the agent's AgentConfiguration, FileFlow, KinesisFileFlow and FirehoseFileFlow read them
// (awslabs/amazon-kinesis-agent). Like the agent's Jackson reader, comments are allowed, numbers and
// booleans may be given as strings, and unknown keys are ignored. Validation happens here, once,
// with messages that name the key.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AgentError, AgentErrorCode, configError, unsupported } from './errors.js';
import { type FilePattern, parseFilePattern } from './glob.js';
import { LogFormat } from './log-formats.js';
import { createConverter, DataProcessingOption, JsonFormat, type JsonValue, type ProcessingOptionConfig } from './processing.js';

export const PartitionKeyOption = { RANDOM: 'RANDOM', DETERMINISTIC: 'DETERMINISTIC' } as const;
export type PartitionKeyOption = (typeof PartitionKeyOption)[keyof typeof PartitionKeyOption];

export const InitialPosition = { START_OF_FILE: 'START_OF_FILE', END_OF_FILE: 'END_OF_FILE' } as const;
export type InitialPosition = (typeof InitialPosition)[keyof typeof InitialPosition];

export const LogLevel = { ERROR: 'ERROR', WARN: 'WARN', INFO: 'INFO', DEBUG: 'DEBUG', TRACE: 'TRACE' } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** Kinesis limits the agent sizes its buffers by (KinesisConstants). */
export const kinesisLimits = {
  maxRecordBytes: 1024 * 1024,
  maxBatchRecords: 500,
  maxBatchBytes: 5 * 1024 * 1024,
} as const;

/** Firehose limits (FirehoseConstants): PutRecordBatch takes 500 records and 4 MiB, a record is at most 1000 KiB. */
export const firehoseLimits = {
  maxRecordBytes: 1000 * 1024,
  maxBatchRecords: 500,
  maxBatchBytes: 4 * 1024 * 1024,
} as const;

export type Destination =
  | { readonly kind: 'kinesis'; readonly streamName: string; readonly partitionKeyOption: PartitionKeyOption }
  | { readonly kind: 'firehose'; readonly deliveryStreamName: string; readonly aggregatedRecordSizeBytes: number };

export interface FlowConfig {
  /** "kinesis:<stream>:<dir>/<glob>" or "fh:<delivery stream>:<dir>/<glob>", the agent's flow ids; checkpoints are kept per id. */
  readonly id: string;
  readonly filePattern: FilePattern;
  readonly destination: Destination;
  readonly initialPosition: InitialPosition;
  readonly multiLineStartPattern?: RegExp | undefined;
  /** Eddy's: how long the last multi-line record of a file waits for more lines once the file is quiet. */
  readonly multiLineFlushMillis: number;
  readonly skipHeaderLines: number;
  readonly truncatedRecordTerminator: Buffer;
  readonly fileFooterPattern?: RegExp | undefined;
  readonly maxBufferAgeMillis: number;
  readonly maxBufferSizeRecords: number;
  readonly maxBufferSizeBytes: number;
  readonly minTimeBetweenFilePollsMillis: number;
  readonly retryInitialBackoffMillis: number;
  readonly retryMaxBackoffMillis: number;
  readonly publishQueueCapacity: number;
  readonly dataProcessingOptions: readonly ProcessingOptionConfig[];
  /** Largest record the destination takes (data plus partition key for Kinesis). */
  readonly maxRecordBytes: number;
}

export interface ServiceEndpoint {
  /** Undefined: the SDK's default endpoint for the region. */
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

export interface AgentConfig {
  readonly checkpointFile: string;
  readonly checkpointTimeToLiveDays: number;
  /** Eddy's: the least time between two checkpoint writes (a write follows acknowledgements at once otherwise). */
  readonly checkpointIntervalMillis: number;
  readonly cloudwatchEmitMetrics: boolean;
  readonly kinesis: ServiceEndpoint;
  readonly firehose: ServiceEndpoint;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  readonly logLevel: LogLevel;
  readonly logFile?: string | undefined;
  readonly logEmitInternalMetrics: boolean;
  readonly statusReportingPeriodSeconds: number;
  readonly shutdownTimeoutMillis: number;
  readonly flows: readonly FlowConfig[];
}

/** Agent-wide defaults (AgentConfiguration), except checkpointFile: see `loadAgentConfig`. */
export const defaultAgentConfig = {
  checkpointFileName: 'eddy-agent-checkpoints.json',
  checkpointTimeToLiveDays: 7,
  checkpointIntervalMillis: 100,
  cloudwatchEmitMetrics: true,
  logLevel: 'INFO',
  logEmitInternalMetrics: false,
  statusReportingPeriodSeconds: 30,
  shutdownTimeoutMillis: 10_000,
} as const;

/** Flow defaults (FileFlow, Constants). Buffer sizes default to the destination's batch limits. */
export const defaultFlowConfig = {
  initialPosition: 'END_OF_FILE',
  partitionKeyOption: 'RANDOM',
  skipHeaderLines: 0,
  truncatedRecordTerminator: '\n',
  maxBufferAgeMillis: 60_000,
  minTimeBetweenFilePollsMillis: 100,
  retryInitialBackoffMillis: 100,
  retryMaxBackoffMillis: 10_000,
  publishQueueCapacity: 100,
  aggregatedRecordSizeBytes: 0,
  multiLineFlushMillis: 1000,
} as const;

// Other keys of the Java agent (thread pools, HTTP client, CloudWatch tuning) are ignored, as
// unknown keys are: see README.md.
const notSupported: Record<string, string> = {
  assumeRoleARN: 'assuming a role is not supported; give awsAccessKeyId/awsSecretAccessKey or use the SDK credential chain (AWS_* variables, profiles)',
  assumeRoleExternalId: 'assuming a role is not supported',
  'sts.endpoint': 'assuming a role is not supported',
  'userDefinedCredentialsProvider.classname': 'Java credential providers cannot be loaded; use the SDK credential chain',
  'userDefinedCredentialsProvider.location': 'Java credential providers cannot be loaded; use the SDK credential chain',
};

export interface LoadOptions {
  /**
   * Where relative paths in the file (filePattern, checkpointFile, log.file) are resolved. Default:
   * for loadAgentConfig the configuration file's directory, for parseAgentConfig the working
   * directory. (The Java agent resolves against its working directory, which as a service is "/".)
   */
  readonly baseDir?: string;
  /** Where the default checkpoint file goes; default: next to the configuration file. */
  readonly configDir?: string;
  /** Region when the file names none and an endpoint does not imply one (the CLI passes AWS_REGION). */
  readonly defaultRegion?: string | undefined;
}

/** Reads and validates a configuration file. */
export async function loadAgentConfig(path: string, options: LoadOptions = {}): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AgentError(AgentErrorCode.CONFIG, `cannot read the configuration file ${path}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(stripJsonComments(text));
  } catch (e) {
    throw new AgentError(AgentErrorCode.CONFIG, `${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const dir = dirname(resolve(path));
  return parseAgentConfig(json, { configDir: dir, baseDir: dir, ...options });
}

/** Validates an already parsed configuration object. */
export function parseAgentConfig(json: unknown, options: LoadOptions = {}): AgentConfig {
  const r = new Reader(asObject(json, '(configuration)'), '');
  const baseDir = options.baseDir ?? process.cwd();
  for (const [key, why] of Object.entries(notSupported)) {
    if (r.has(key)) throw unsupported(key, why);
  }
  const accessKeyId = r.string('awsAccessKeyId');
  const secretAccessKey = r.string('awsSecretAccessKey');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw configError(accessKeyId === undefined ? 'awsAccessKeyId' : 'awsSecretAccessKey', 'awsAccessKeyId and awsSecretAccessKey go together');
  }
  const kinesis = endpointOf(r, 'kinesis', options.defaultRegion);
  const firehose = endpointOf(r, 'firehose', options.defaultRegion);
  const checkpointFile = r.string('checkpointFile');
  const logFile = r.string('log.file');
  const flowsJson = r.raw('flows');
  if (!Array.isArray(flowsJson) || flowsJson.length === 0) throw configError('flows', 'an array of at least one flow is required');
  const flows = flowsJson.map((f, i) => parseFlow(f, `flows[${i}]`, baseDir));
  const ids = new Set<string>();
  flows.forEach((f, i) => {
    if (ids.has(f.id)) throw configError(`flows[${i}]`, `a second flow with the same file pattern and destination (${f.id})`);
    ids.add(f.id);
  });
  return {
    checkpointFile:
      checkpointFile === undefined
        ? resolve(options.configDir ?? baseDir, defaultAgentConfig.checkpointFileName)
        : isAbsolute(checkpointFile)
          ? checkpointFile
          : resolve(baseDir, checkpointFile),
    checkpointTimeToLiveDays: r.int('checkpointTimeToLiveDays', defaultAgentConfig.checkpointTimeToLiveDays, 1, 3650),
    checkpointIntervalMillis: r.int('checkpointIntervalMillis', defaultAgentConfig.checkpointIntervalMillis, 0, 600_000),
    cloudwatchEmitMetrics: r.bool('cloudwatch.emitMetrics', defaultAgentConfig.cloudwatchEmitMetrics),
    kinesis,
    firehose,
    ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    logLevel: r.enumOf('log.level', LogLevel, defaultAgentConfig.logLevel),
    ...(logFile !== undefined && logFile !== '' ? { logFile: resolve(baseDir, logFile) } : {}),
    logEmitInternalMetrics: r.bool('log.emitInternalMetrics', defaultAgentConfig.logEmitInternalMetrics),
    statusReportingPeriodSeconds: r.int('log.statusReportingPeriodSeconds', defaultAgentConfig.statusReportingPeriodSeconds, 1, 86_400),
    shutdownTimeoutMillis: r.int('shutdownTimeoutMillis', defaultAgentConfig.shutdownTimeoutMillis, 0, 3_600_000),
    flows,
  };
}

function endpointOf(r: Reader, service: 'kinesis' | 'firehose', defaultRegion: string | undefined): ServiceEndpoint {
  let endpoint = r.string(`${service}.endpoint`);
  // The agent's release config ships "kinesis.endpoint": "" meaning "the default".
  if (endpoint === '') endpoint = undefined;
  if (endpoint !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) endpoint = `https://${endpoint}`;
  if (endpoint !== undefined) {
    try {
      new URL(endpoint);
    } catch {
      throw configError(`${service}.endpoint`, `not a URL: ${endpoint}`);
    }
  }
  const region = r.string(`${service}.region`) ?? regionOfEndpoint(endpoint) ?? defaultRegion;
  return { ...(endpoint !== undefined ? { endpoint } : {}), ...(region !== undefined && region !== '' ? { region } : {}) };
}

/** "https://kinesis.us-west-2.amazonaws.com" → "us-west-2", as the agent derives it. */
function regionOfEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  const m = /^(?:kinesis|firehose)(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(new URL(endpoint).hostname);
  return m?.[1];
}

function parseFlow(json: unknown, path: string, baseDir: string): FlowConfig {
  const r = new Reader(asObject(json, path), `${path}.`);
  const patternText = r.string('filePattern');
  if (patternText === undefined) throw configError(`${path}.filePattern`, 'required');
  let filePattern: FilePattern;
  try {
    filePattern = parseFilePattern(patternText, baseDir);
  } catch (e) {
    throw configError(`${path}.filePattern`, (e as Error).message);
  }
  const stream = r.string('kinesisStream');
  const delivery = r.string('deliveryStream');
  if ((stream === undefined) === (delivery === undefined)) {
    throw configError(path, 'exactly one of kinesisStream and deliveryStream is required');
  }
  const limits = stream !== undefined ? kinesisLimits : firehoseLimits;
  let destination: Destination;
  let id: string;
  if (stream !== undefined) {
    if (stream === '') throw configError(`${path}.kinesisStream`, 'empty');
    destination = { kind: 'kinesis', streamName: stream, partitionKeyOption: r.enumOf('partitionKeyOption', PartitionKeyOption, defaultFlowConfig.partitionKeyOption) };
    id = `kinesis:${stream}:${filePattern.display}`;
  } else {
    if (delivery === '') throw configError(`${path}.deliveryStream`, 'empty');
    if (r.has('partitionKeyOption')) throw configError(`${path}.partitionKeyOption`, 'applies to kinesisStream flows only');
    destination = {
      kind: 'firehose',
      deliveryStreamName: delivery as string,
      aggregatedRecordSizeBytes: r.int('aggregatedRecordSizeBytes', defaultFlowConfig.aggregatedRecordSizeBytes, 0, firehoseLimits.maxRecordBytes),
    };
    id = `fh:${delivery}:${filePattern.display}`;
  }
  const multiLine = r.string('multiLineStartPattern');
  const footer = r.string('fileFooterPattern');
  const terminator = r.string('truncatedRecordTerminator') ?? defaultFlowConfig.truncatedRecordTerminator;
  const terminatorBytes = Buffer.from(terminator, 'utf8');
  if (terminatorBytes.length >= limits.maxRecordBytes) throw configError(`${path}.truncatedRecordTerminator`, 'longer than a record');
  const optionsJson = r.raw('dataProcessingOptions');
  if (optionsJson !== undefined && !Array.isArray(optionsJson)) {
    // The agent silently ignored a single object here (its issue #22); say so instead.
    throw configError(`${path}.dataProcessingOptions`, 'must be an array of options');
  }
  const dataProcessingOptions = (optionsJson ?? []).map((o, i) => parseProcessingOption(o, `${path}.dataProcessingOptions[${i}]`));
  return {
    id,
    filePattern,
    destination,
    initialPosition: r.enumOf('initialPosition', InitialPosition, defaultFlowConfig.initialPosition),
    ...(multiLine !== undefined && multiLine !== '' ? { multiLineStartPattern: regex(multiLine, `${path}.multiLineStartPattern`, '^(?:', ')') } : {}),
    multiLineFlushMillis: r.int('multiLineFlushMillis', defaultFlowConfig.multiLineFlushMillis, 0, 3_600_000),
    skipHeaderLines: r.int('skipHeaderLines', defaultFlowConfig.skipHeaderLines, 0, 1_000_000),
    truncatedRecordTerminator: terminatorBytes,
    ...(footer !== undefined && footer !== '' ? { fileFooterPattern: regex(footer, `${path}.fileFooterPattern`, '', '', 'm') } : {}),
    maxBufferAgeMillis: r.int('maxBufferAgeMillis', defaultFlowConfig.maxBufferAgeMillis, 1000, 15 * 60_000),
    maxBufferSizeRecords: r.int('maxBufferSizeRecords', limits.maxBatchRecords, 1, limits.maxBatchRecords),
    maxBufferSizeBytes: r.int('maxBufferSizeBytes', limits.maxBatchBytes, 1, limits.maxBatchBytes),
    minTimeBetweenFilePollsMillis: r.int('minTimeBetweenFilePollsMillis', defaultFlowConfig.minTimeBetweenFilePollsMillis, 1, 60_000),
    retryInitialBackoffMillis: r.int('retryInitialBackoffMillis', defaultFlowConfig.retryInitialBackoffMillis, 1, 3_600_000),
    retryMaxBackoffMillis: r.int('retryMaxBackoffMillis', defaultFlowConfig.retryMaxBackoffMillis, 1, 3_600_000),
    publishQueueCapacity: r.int('publishQueueCapacity', defaultFlowConfig.publishQueueCapacity, 1, 100_000),
    dataProcessingOptions,
    maxRecordBytes: limits.maxRecordBytes,
  };
}

function parseProcessingOption(json: unknown, path: string): ProcessingOptionConfig {
  const r = new Reader(asObject(json, path), `${path}.`);
  const name = r.string('optionName');
  if (name === 'ADDEC2METADATA') throw unsupported(`${path}.optionName`, 'ADDEC2METADATA needs the EC2 instance metadata service and is not supported');
  if (name === 'USINGPLUGGIN') throw unsupported(`${path}.optionName`, 'Java converter plug-ins cannot be loaded');
  const optionName = r.enumOf('optionName', DataProcessingOption, undefined);
  let o: ProcessingOptionConfig;
  switch (optionName) {
    case 'SINGLELINE': {
      const parseOptions = r.stringList('parseOptions') ?? [];
      for (const p of parseOptions) {
        if (p !== 'NO_TRIM' && p !== 'ESCAPE_NEW_LINE') throw configError(`${path}.parseOptions`, `unknown option ${JSON.stringify(p)} (NO_TRIM, ESCAPE_NEW_LINE)`);
      }
      o = { optionName, parseOptions: parseOptions as ('NO_TRIM' | 'ESCAPE_NEW_LINE')[] };
      break;
    }
    case 'CSVTOJSON': {
      const customFieldNames = r.stringList('customFieldNames');
      if (customFieldNames === undefined) throw configError(`${path}.customFieldNames`, 'required for CSVTOJSON');
      o = { optionName, customFieldNames, delimiter: r.string('delimiter') ?? ',', jsonFormat: r.enumOf('jsonFormat', JsonFormat, 'COMPACT') };
      break;
    }
    case 'LOGTOJSON':
      o = {
        optionName,
        logFormat: r.enumOf('logFormat', LogFormat, undefined),
        matchPattern: r.string('matchPattern'),
        customFieldNames: r.stringList('customFieldNames'),
        jsonFormat: r.enumOf('jsonFormat', JsonFormat, 'COMPACT'),
      };
      break;
    case 'ADDBRACKETS':
    case 'ADDEOL':
      o = { optionName };
      break;
    case 'ADDMETADATA':
      o = {
        optionName,
        metadata: (r.raw('metadata') ?? null) as JsonValue,
        timestamp: r.bool('timestamp', false),
        jsonFormat: r.enumOf('jsonFormat', JsonFormat, 'COMPACT'),
      };
      break;
  }
  try {
    createConverter(o); // compiles its patterns: a bad one fails here, naming the option
  } catch (e) {
    throw configError(path, (e as Error).message);
  }
  return o;
}

function regex(source: string, path: string, prefix: string, suffix: string, flags = ''): RegExp {
  try {
    return new RegExp(`${prefix}${source}${suffix}`, flags);
  } catch (e) {
    throw configError(path, `not a valid regular expression: ${(e as Error).message}`);
  }
}

function asObject(json: unknown, path: string): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw configError(path, 'must be a JSON object');
  return json as Record<string, unknown>;
}

/** Typed reads with the agent's lenient conversions (StringConverterWrapper, BooleanConverter). */
class Reader {
  readonly #o: Record<string, unknown>;
  readonly #prefix: string;
  constructor(o: Record<string, unknown>, prefix: string) {
    this.#o = o;
    this.#prefix = prefix;
  }
  has(key: string): boolean {
    return this.#o[key] !== undefined && this.#o[key] !== null;
  }
  raw(key: string): unknown {
    const v = this.#o[key];
    return v === null ? undefined : v;
  }
  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw configError(this.#prefix + key, 'must be a string');
  }
  int(key: string, dflt: number, min: number, max: number): number {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw configError(this.#prefix + key, `must be an integer, got ${JSON.stringify(v)}`);
    if (n < min || n > max) throw configError(this.#prefix + key, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
    throw configError(this.#prefix + key, `must be true or false, got ${JSON.stringify(v)}`);
  }
  stringList(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw configError(this.#prefix + key, 'must be an array of strings');
    return v as string[];
  }
  enumOf<T extends Record<string, string>, D extends T[keyof T] | undefined>(key: string, values: T, dflt: D): T[keyof T] {
    const v = this.string(key);
    if (v === undefined) {
      if (dflt === undefined) throw configError(this.#prefix + key, `required, one of ${Object.values(values).join(', ')}`);
      return dflt as T[keyof T];
    }
    if (!Object.values(values).includes(v)) throw configError(this.#prefix + key, `must be one of ${Object.values(values).join(', ')}, got ${JSON.stringify(v)}`);
    return v as T[keyof T];
  }
}

/** Removes // and /* *\/ comments outside strings (Jackson's ALLOW_COMMENTS, which the agent turns on). */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
