import { readFileSync } from 'node:fs';
import { type Clock, systemClock } from './core/clock.js';
import { createFirehose, type FirehoseService } from './firehose/index.js';
import { instrumentBinding, metricsRoute, Registry } from './metrics/index.js';
import { openLocalStorage } from './storage/local/index.js';
import { openMemoryStorage } from './storage/memory/index.js';
import type { Storage } from './storage/types.js';
import type { OpContext } from './streams/context.js';
import { kinesisOperations } from './streams/index.js';
import { defaultStreamsOptions, StreamsService } from './streams/service.js';
import { createDispatcher, type Request, type Response } from './wire/dispatch.js';
import { model as kinesisModel } from './wire/generated/kinesis.js';
import { listen, type Listener } from './wire/listener.js';
import { type Credentials, loadCredentialsFile } from './wire/sigv4.js';
import { selfSignedCertificate } from './wire/self-signed.js';

export interface EddyOptions {
  readonly host: string;
  readonly port: number;
  /** Where embedded storage keeps its files; ignored with `memory`. */
  readonly dataDir: string;
  /** Keep nothing on disk. */
  readonly memory: boolean;
  readonly region: string;
  readonly accountId: string;
  /** How long CREATING, UPDATING and DELETING last. */
  readonly stateDelayMs: number;
  /** Enforce AWS's per-shard limits. */
  readonly throttle: boolean;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Serve TLS with a self-signed certificate generated at start. */
  readonly tls: boolean;
  readonly auth: 'none' | 'sigv4';
  /** Credentials file for `auth: 'sigv4'` (JSON or AWS CLI INI). */
  readonly credentialsFile?: string | undefined;
  /** Extra credentials (tests, embedding). */
  readonly credentials?: readonly Credentials[] | undefined;
  readonly shardLimit: number;
  readonly onDemandStreamCountLimit: number;
  /** Largest request body accepted (bytes). */
  readonly maxBodyBytes: number;
  /** How often an idle SubscribeToShard gets an empty event. */
  readonly heartbeatMs: number;
  /** How long an ended SubscribeToShard waits for its client to read its last events before its stream is reset. */
  readonly stalledStreamMs: number;
  readonly clock: Clock;
  /** Firehose S3 destinations: an S3-compatible endpoint; without one, buckets are directories under `s3Dir`. */
  readonly s3Endpoint?: string | undefined;
  readonly s3Region?: string | undefined;
  readonly s3AccessKeyId?: string | undefined;
  readonly s3SecretAccessKey?: string | undefined;
  /** Path-style S3 URLs (default true). */
  readonly s3ForcePathStyle?: boolean | undefined;
  /** Local bucket directory when no S3 endpoint is set (default `<dataDir>/s3`). */
  readonly s3Dir?: string | undefined;
  /** Firehose Lambda transformation: base URL of a server speaking the Lambda Invoke API (default: none). */
  readonly lambdaEndpoint?: string | undefined;
  /** Firehose Lambda transformation: directory of local functions, `<dir>/<FunctionName>.mjs` exporting `handler` (default: none). */
  readonly lambdaDir?: string | undefined;
  /** Firehose record format conversion: the Glue Data Catalog stand-in, a JSON file of databases, tables and columns (default: none). */
  readonly glueCatalog?: string | undefined;
  /** Where internal failures are reported. */
  readonly log: (line: string) => void;
}

export const defaultEddyOptions = {
  host: '127.0.0.1',
  port: 4567,
  dataDir: './data',
  memory: false,
  region: 'us-east-1',
  accountId: '000000000000',
  stateDelayMs: defaultStreamsOptions.stateDelayMs,
  throttle: true,
  tls: false,
  auth: 'none',
  shardLimit: defaultStreamsOptions.shardLimit,
  onDemandStreamCountLimit: defaultStreamsOptions.onDemandStreamCountLimit,
  // A 10 MiB record is 13.4 MiB of base64; PutRecords carries at most 10 MiB of data.
  maxBodyBytes: 16 * 1024 * 1024,
  heartbeatMs: defaultStreamsOptions.heartbeatMs,
  stalledStreamMs: defaultStreamsOptions.stalledStreamMs,
  clock: systemClock,
  log: (line: string) => process.stderr.write(`${line}\n`),
} as const satisfies EddyOptions;

export interface Eddy {
  readonly port: number;
  readonly host: string;
  /** `http://host:port` (or https with TLS). */
  readonly endpoint: string;
  readonly streams: StreamsService;
  readonly firehose: FirehoseService;
  readonly metrics: Registry;
  readonly listener: Listener;
  close(): Promise<void>;
}

/** Starts an Eddy server: storage, services and the listener on one port. */
export async function startEddy(partial: Partial<EddyOptions> = {}): Promise<Eddy> {
  const o: EddyOptions = { ...defaultEddyOptions, ...partial };
  const storage: Storage = o.memory ? openMemoryStorage() : await openLocalStorage({ dataDir: o.dataDir });
  const streams = new StreamsService(storage, {
    clock: o.clock,
    stateDelayMs: o.stateDelayMs,
    throttle: o.throttle,
    shardLimit: o.shardLimit,
    onDemandStreamCountLimit: o.onDemandStreamCountLimit,
    maintenanceIntervalMs: defaultStreamsOptions.maintenanceIntervalMs,
    heartbeatMs: o.heartbeatMs,
    stalledStreamMs: o.stalledStreamMs,
  });
  await streams.start();
  const metrics = new Registry();
  const firehose = await createFirehose(storage, streams, metrics, o);
  await firehose.service.start();

  const creds = new Map<string, Credentials>();
  if (o.credentialsFile) for (const c of loadCredentialsFile(o.credentialsFile, o.accountId)) creds.set(c.accessKeyId, c);
  for (const c of o.credentials ?? []) creds.set(c.accessKeyId, c);

  const dispatch = createDispatcher(
    [
      instrumentBinding({
        model: kinesisModel,
        serves: (op) => op in kinesisOperations,
        invoke: async (inv) => {
          const ctx: OpContext = {
            caller: inv.caller,
            requestId: inv.requestId,
            streams,
            format: inv.format,
            get signal() {
              return inv.signal;
            },
          };
          const op = kinesisOperations[inv.operation];
          if (!op) throw new Error(`unserved operation ${inv.operation}`);
          return op(inv.input, ctx);
        },
      }, metrics),
      instrumentBinding(firehose.binding, metrics),
    ],
    {
      auth: o.auth,
      lookupCredentials: (id) => creds.get(id),
      accountId: o.accountId,
      region: o.region,
      maxBodyBytes: o.maxBodyBytes,
      now: () => o.clock.now(),
      routes: {
        '/metrics': metricsRoute(metrics),
        '/healthz': (_req: Request, res: Response) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end('ok\n');
        },
      },
      onError: (e, where) => o.log(`eddy: internal failure in ${where.service ?? '?'}.${where.operation ?? '?'}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
    },
  );

  let tls: { key: string | Buffer; cert: string | Buffer } | undefined;
  if (o.tlsCert && o.tlsKey) tls = { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) };
  else if (o.tls) tls = selfSignedCertificate(o.host);

  let listener: Listener;
  try {
    listener = await listen({ host: o.host, port: o.port, tls }, dispatch);
  } catch (e) {
    await firehose.service.close();
    await streams.close();
    await storage.close();
    throw e;
  }
  const scheme = tls ? 'https' : 'http';
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  let closed: Promise<void> | undefined;
  return {
    port: listener.port,
    host: o.host,
    endpoint: `${scheme}://${hostForUrl}:${listener.port}`,
    streams,
    firehose: firehose.service,
    metrics,
    listener,
    close() {
      closed ??= (async () => {
        await listener.close();
        await firehose.service.close();
        await streams.close();
        await storage.close();
      })();
      return closed;
    },
  };
}
