/**
 * An HTTP server on a random loopback port that records every request and answers with what the
 * test's handler says: the far side of the destinations under test.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer | object;
}

export type ReplyHandler = (req: Received, n: number) => Reply | Promise<Reply>;

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly requests: Received[];
  handler: ReplyHandler;
  close(): Promise<void>;
}

export async function startReceiver(handler: ReplyHandler = () => ({ status: 200 })): Promise<Receiver> {
  const requests: Received[] = [];
  const r: Receiver = {
    url: '',
    port: 0,
    requests,
    handler,
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      Promise.resolve(r.handler(rec, requests.length))
        .then((reply) => {
          const body = reply.body === undefined ? '' : typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
          const headers: Record<string, string> = { ...(typeof reply.body === 'object' && !Buffer.isBuffer(reply.body) ? { 'Content-Type': 'application/json' } : {}), ...reply.headers };
          res.writeHead(reply.status ?? 200, headers);
          res.end(body);
        })
        .catch((e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
