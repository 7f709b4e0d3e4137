// Helpers shared by the fan-out-*.test.ts files: SDK subscriptions read with `for await` in the
// background, and raw HTTP/2 / HTTP/1.1 subscriptions decoded frame by frame.
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  RegisterStreamConsumerCommand,
  type StartingPosition,
  type SubscribeToShardEvent,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';
import { type EventMessage, EventStreamDecoder } from '../../src/wire/event-stream.js';
import { client, uniqueName } from '../helpers/server.js';

export const shardId = (i: number): string => `shardId-${String(i).padStart(12, '0')}`;

/** The SDK over each transport Eddy serves on one port. */
export type Transport = 'h2c' | 'h2-tls' | 'http1' | 'https1';

/** A client for the transport; TLS ones accept Eddy's self-signed certificate. */
export function clientFor(endpoint: string, transport: Transport): KinesisClient {
  switch (transport) {
    case 'h2c':
      return client(endpoint);
    case 'http1':
      return client(endpoint, true);
    case 'h2-tls':
      // The SDK's own default handler (HTTP/2 for every call), told to trust the test certificate.
      return client(endpoint, false, {
        requestHandler: new NodeHttp2Handler({ disableConcurrentStreams: true, nodeHttp2ConnectOptions: { rejectUnauthorized: false } }),
      });
    case 'https1':
      return client(endpoint, false, { requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ rejectUnauthorized: false }) }) });
  }
}

/** A stream with `shards` shards and one ACTIVE consumer per name. */
export async function streamWithConsumers(k: KinesisClient, shards = 1, consumers: readonly string[] = ['app']) {
  const StreamName = uniqueName();
  await k.send(new CreateStreamCommand({ StreamName, ShardCount: shards }));
  const s = await k.send(new DescribeStreamSummaryCommand({ StreamName }));
  const StreamARN = s.StreamDescriptionSummary!.StreamARN!;
  const arns: string[] = [];
  for (const ConsumerName of consumers) {
    const { Consumer } = await k.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName }));
    arns.push(Consumer!.ConsumerARN!);
  }
  return { StreamName, StreamARN, ConsumerARN: arns[0]!, ConsumerARNs: arns };
}

/** Resolves when `cond` holds, polling; rejects with `what` after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * One SubscribeToShard call through the SDK. Events are read with `for await` over the SDK's
 * EventStream in the background; tests wait on what has arrived so far.
 */
export class Subscriber {
  readonly events: SubscribeToShardEvent[] = [];
  /** What the for-await loop threw (an in-stream exception arrives here), if anything. */
  error: unknown;
  ended = false;
  readonly #ac = new AbortController();
  #changed: (() => void) | undefined;
  readonly done: Promise<void>;

  private constructor(stream: AsyncIterable<{ SubscribeToShardEvent?: SubscribeToShardEvent }>, stopAfter?: (e: SubscribeToShardEvent) => boolean) {
    this.done = (async () => {
      try {
        for await (const e of stream) {
          if (e.SubscribeToShardEvent) {
            this.events.push(e.SubscribeToShardEvent);
            this.#changed?.();
            if (stopAfter?.(e.SubscribeToShardEvent)) break;
          }
        }
      } catch (err) {
        if (!this.#ac.signal.aborted) this.error = err;
      } finally {
        this.ended = true;
        this.#changed?.();
      }
    })();
  }

  static async open(
    k: KinesisClient,
    ConsumerARN: string,
    ShardId: string,
    StartingPosition: StartingPosition = { Type: 'TRIM_HORIZON' },
    stopAfter?: (e: SubscribeToShardEvent) => boolean,
  ): Promise<Subscriber> {
    const ac = new AbortController();
    const r = await k.send(new SubscribeToShardCommand({ ConsumerARN, ShardId, StartingPosition }), { abortSignal: ac.signal });
    if (!r.EventStream) throw new Error('no EventStream');
    const s = new Subscriber(r.EventStream, stopAfter);
    s.#ac.signal.addEventListener('abort', () => ac.abort());
    return s;
  }

  get records() {
    return this.events.flatMap((e) => e.Records ?? []);
  }

  /** Data of every record so far, as UTF-8. */
  get data(): string[] {
    return this.records.map((r) => Buffer.from(r.Data!).toString());
  }

  /** Waits until `cond` holds over what has arrived; fails if the stream ends first or `ms` pass. */
  async until(cond: (s: Subscriber) => boolean, what: string, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond(this)) {
      if (this.ended) throw new Error(`stream ended (${String(this.error ?? 'normally')}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#changed = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Waits for the stream to end (normally or with an error). */
  async finished(ms = 5_000): Promise<void> {
    await Promise.race([this.done, sleep(ms).then(() => Promise.reject(new Error('timed out waiting for the stream to end')))]);
  }

  abort(): void {
    this.#ac.abort();
  }
}

// ------------------------------------------------------------------------------------ raw wire

export interface RawSubscription {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The response body as received, chunk by chunk. */
  readonly chunks: Buffer[];
  readonly messages: EventMessage[];
  ended: boolean;
  /** Waits until at least n messages arrived. */
  waitMessages(n: number, ms?: number): Promise<void>;
  close(): void;
}

function collector(onClose: () => void) {
  const decoder = new EventStreamDecoder();
  let changed: (() => void) | undefined;
  const sub = {
    chunks: [] as Buffer[],
    messages: [] as EventMessage[],
    ended: false,
    error: undefined as unknown,
    /** Set once the status is known: only a 200 carries an event stream. */
    decode: false,
    push(chunk: Buffer) {
      sub.chunks.push(chunk);
      if (sub.decode) sub.messages.push(...decoder.push(chunk));
      changed?.();
    },
    end(err?: unknown) {
      sub.ended = true;
      if (err !== undefined) sub.error = err;
      changed?.();
    },
    async waitMessages(n: number, ms = 5_000) {
      const deadline = Date.now() + ms;
      while (sub.messages.length < n) {
        if (sub.ended) throw new Error(`stream ended after ${sub.messages.length} of ${n} messages`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${sub.messages.length} of ${n} messages`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          changed = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    },
    close: onClose,
  };
  return sub;
}

/**
 * SubscribeToShard over node:http2 (h2c, or h2 over TLS for an https endpoint), as the Java SDK
 * and the JS SDK send it: `POST /` with the target header and a JSON or CBOR body.
 */
export async function rawSubscribeH2(
  endpoint: string,
  body: Uint8Array,
  contentType = 'application/x-amz-json-1.1',
  settings: http2.Settings = {},
): Promise<RawSubscription & { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream; socket: net.Socket }> {
  // Our own socket, so that a test can destroy it under the session (a vanishing client).
  const url = new URL(endpoint);
  const port = Number(url.port);
  const socket =
    url.protocol === 'https:'
      ? tls.connect({ host: url.hostname, port, ALPNProtocols: ['h2'], rejectUnauthorized: false, servername: 'localhost' })
      : net.connect({ host: url.hostname, port });
  const session = http2.connect(endpoint, { settings, createConnection: () => socket });
  session.on('error', () => undefined);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/',
    'content-type': contentType,
    'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
  });
  const c = collector(() => {
    stream.close();
    session.destroy();
  });
  stream.on('error', (e) => c.end(e));
  stream.end(body);
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  c.decode = Number(headers[':status']) === 200;
  stream.on('data', (chunk: Buffer) => c.push(chunk));
  stream.on('end', () => c.end());
  return Object.assign(c, { status: Number(headers[':status']), headers, session, stream, socket });
}

/** SubscribeToShard over HTTP/1.1, as botocore sends it (urllib3 reads the chunked body). */
export async function rawSubscribeH1(endpoint: string, body: Uint8Array, contentType = 'application/x-amz-json-1.1'): Promise<RawSubscription & { req: http.ClientRequest; res: http.IncomingMessage }> {
  const url = new URL(endpoint);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    method: 'POST',
    path: '/',
    agent: false,
    headers: { 'Content-Type': contentType, 'X-Amz-Target': 'Kinesis_20131202.SubscribeToShard', 'Content-Length': String(body.length) },
  });
  req.on('error', () => undefined);
  req.end(body);
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const c = collector(() => req.destroy());
  c.decode = res.statusCode === 200;
  res.on('data', (chunk: Buffer) => c.push(chunk));
  res.on('end', () => c.end());
  res.on('error', (e) => c.end(e));
  res.on('aborted', () => c.end(new Error('aborted')));
  return Object.assign(c, { status: res.statusCode ?? 0, headers: res.headers, req, res });
}

/** A header's string value. */
export function hdr(m: EventMessage, name: string): string | undefined {
  const h = m.headers[name];
  return h?.type === 'string' ? h.value : undefined;
}

/** A JSON payload. */
export function json(m: EventMessage): Record<string, unknown> {
  return JSON.parse(Buffer.from(m.payload).toString('utf8') || '{}') as Record<string, unknown>;
}
