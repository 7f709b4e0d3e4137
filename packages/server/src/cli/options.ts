import { parseArgs } from 'node:util';
import { defaultEddyOptions, type EddyOptions } from '../server.js';

/** One row per option: its flag, environment variable, and how to read it. */
const SPEC = {
  port: { env: 'EDDY_PORT', type: 'string', help: 'TCP port (0 picks a free one)', kind: 'int' },
  host: { env: 'EDDY_HOST', type: 'string', help: 'address to listen on', kind: 'string' },
  'data-dir': { env: 'EDDY_DATA_DIR', type: 'string', help: 'directory of the embedded storage', kind: 'string' },
  memory: { env: 'EDDY_MEMORY', type: 'boolean', help: 'keep everything in memory, nothing on disk', kind: 'bool' },
  region: { env: 'EDDY_REGION', type: 'string', help: 'region for ARNs when a request names none', kind: 'string' },
  'account-id': { env: 'EDDY_ACCOUNT_ID', type: 'string', help: '12-digit account id used with --auth none', kind: 'string' },
  'state-delay-ms': { env: 'EDDY_STATE_DELAY_MS', type: 'string', help: 'how long CREATING, UPDATING and DELETING last', kind: 'int' },
  'no-throttle': { env: 'EDDY_NO_THROTTLE', type: 'boolean', help: "do not enforce AWS's per-shard read/write limits", kind: 'bool' },
  tls: { env: 'EDDY_TLS', type: 'boolean', help: 'serve HTTPS too, with a self-signed certificate made at start', kind: 'bool' },
  'tls-cert': { env: 'EDDY_TLS_CERT', type: 'string', help: 'PEM certificate file for HTTPS', kind: 'string' },
  'tls-key': { env: 'EDDY_TLS_KEY', type: 'string', help: 'PEM private key file for HTTPS', kind: 'string' },
  auth: { env: 'EDDY_AUTH', type: 'string', help: "'none' (default) or 'sigv4' (verify signatures against --credentials)", kind: 'string' },
  credentials: { env: 'EDDY_CREDENTIALS', type: 'string', help: 'credentials file: JSON {"credentials":[{accessKeyId,secretAccessKey,accountId}]} or AWS CLI INI', kind: 'string' },
  'shard-limit': { env: 'EDDY_SHARD_LIMIT', type: 'string', help: 'provisioned shards per account', kind: 'int' },
  'on-demand-stream-limit': { env: 'EDDY_ON_DEMAND_STREAM_LIMIT', type: 'string', help: 'on-demand streams per account', kind: 'int' },
  's3-endpoint': { env: 'EDDY_S3_ENDPOINT', type: 'string', help: 'S3-compatible endpoint for Firehose S3 destinations (default: buckets are directories under --s3-dir)', kind: 'string' },
  's3-region': { env: 'EDDY_S3_REGION', type: 'string', help: 'region to sign S3 requests for', kind: 'string' },
  's3-access-key-id': { env: 'EDDY_S3_ACCESS_KEY_ID', type: 'string', help: 'S3 access key id (default: the AWS SDK credential chain)', kind: 'string' },
  's3-secret-access-key': { env: 'EDDY_S3_SECRET_ACCESS_KEY', type: 'string', help: 'S3 secret access key', kind: 'string' },
  's3-virtual-hosted': { env: 'EDDY_S3_VIRTUAL_HOSTED', type: 'boolean', help: 'virtual-hosted-style S3 URLs instead of path-style', kind: 'bool' },
  's3-dir': { env: 'EDDY_S3_DIR', type: 'string', help: 'directory of the local bucket layout <dir>/<bucket>/<key> (default <data-dir>/s3)', kind: 'string' },
  'lambda-endpoint': { env: 'EDDY_LAMBDA_ENDPOINT', type: 'string', help: 'Lambda Invoke API endpoint for Firehose transformation functions', kind: 'string' },
  'lambda-dir': { env: 'EDDY_LAMBDA_DIR', type: 'string', help: 'directory of local Firehose transformation functions (<dir>/<FunctionName>.mjs exporting handler)', kind: 'string' },
  'glue-catalog': { env: 'EDDY_GLUE_CATALOG', type: 'string', help: 'JSON file of Glue tables for record format conversion: {"databases":{"db":{"tables":{"t":{"columns":[{"Name","Type"}]}}}}}', kind: 'string' },
  help: { env: '', type: 'boolean', help: 'show this help', kind: 'bool' },
} as const;

export class UsageError extends Error {}

export function usage(): string {
  const rows = Object.entries(SPEC)
    .filter(([k]) => k !== 'help')
    .map(([k, v]) => {
      const d = defaultFor(k);
      return `  --${k.padEnd(24)} ${v.help}${d !== undefined ? ` (default ${d})` : ''}\n  ${''.padEnd(26)} env ${v.env}`;
    });
  return [
    'eddy: a self-hosted Amazon Kinesis',
    '',
    'Usage: eddy serve [options]',
    '',
    'Every option can also be set by its environment variable; flags win.',
    '',
    ...rows,
    '',
    'Example: eddy serve --port 4567 --data-dir ./data',
    '         aws kinesis list-streams --endpoint-url http://127.0.0.1:4567',
  ].join('\n');
}

function defaultFor(k: string): string | undefined {
  const d: Record<string, unknown> = {
    port: defaultEddyOptions.port,
    host: defaultEddyOptions.host,
    'data-dir': defaultEddyOptions.dataDir,
    region: defaultEddyOptions.region,
    'account-id': defaultEddyOptions.accountId,
    'state-delay-ms': defaultEddyOptions.stateDelayMs,
    auth: defaultEddyOptions.auth,
    'shard-limit': defaultEddyOptions.shardLimit,
    'on-demand-stream-limit': defaultEddyOptions.onDemandStreamCountLimit,
  };
  return d[k] === undefined ? undefined : String(d[k]);
}

/** Parses argv and the environment into server options. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): { help: boolean; options: Partial<EddyOptions> } {
  const options = Object.fromEntries(Object.entries(SPEC).map(([k, v]) => [k, { type: v.type }])) as Record<string, { type: 'string' | 'boolean' }>;
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const get = (k: keyof typeof SPEC): string | boolean | undefined => {
    if (v[k] !== undefined) return v[k];
    const e = SPEC[k].env ? env[SPEC[k].env] : undefined;
    if (e === undefined || e === '') return undefined;
    if (SPEC[k].kind === 'bool') return !/^(0|false|no|off)$/i.test(e);
    return e;
  };
  const int = (k: keyof typeof SPEC): number | undefined => {
    const x = get(k);
    if (x === undefined) return undefined;
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${k} must be a non-negative integer, got '${String(x)}'`);
    return n;
  };
  const str = (k: keyof typeof SPEC): string | undefined => {
    const x = get(k);
    return x === undefined ? undefined : String(x);
  };
  const out: Record<string, unknown> = {
    port: int('port'),
    host: str('host'),
    dataDir: str('data-dir'),
    memory: get('memory') === true ? true : undefined,
    region: str('region'),
    accountId: str('account-id'),
    stateDelayMs: int('state-delay-ms'),
    throttle: get('no-throttle') === true ? false : undefined,
    tls: get('tls') === true ? true : undefined,
    tlsCert: str('tls-cert'),
    tlsKey: str('tls-key'),
    auth: str('auth'),
    credentialsFile: str('credentials'),
    shardLimit: int('shard-limit'),
    onDemandStreamCountLimit: int('on-demand-stream-limit'),
    s3Endpoint: str('s3-endpoint'),
    s3Region: str('s3-region'),
    s3AccessKeyId: str('s3-access-key-id'),
    s3SecretAccessKey: str('s3-secret-access-key'),
    s3ForcePathStyle: get('s3-virtual-hosted') === true ? false : undefined,
    s3Dir: str('s3-dir'),
    lambdaEndpoint: str('lambda-endpoint'),
    lambdaDir: str('lambda-dir'),
    glueCatalog: str('glue-catalog'),
  };
  if (out.auth !== undefined && out.auth !== 'none' && out.auth !== 'sigv4') throw new UsageError(`--auth must be 'none' or 'sigv4'`);
  if (out.accountId !== undefined && !/^\d{12}$/.test(String(out.accountId))) throw new UsageError('--account-id must be 12 digits');
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if ((out.s3AccessKeyId === undefined) !== (out.s3SecretAccessKey === undefined)) throw new UsageError('--s3-access-key-id and --s3-secret-access-key go together');
  if (out.auth === 'sigv4' && out.credentialsFile === undefined) throw new UsageError('--auth sigv4 needs --credentials FILE');
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return { help: v.help === true, options: out as Partial<EddyOptions> };
}
