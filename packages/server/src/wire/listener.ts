import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Request, Response } from './dispatch.js';

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** PEM key and certificate: TLS (ALPN h2 and http/1.1) is then served on the same port too. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer } | undefined;
}

export interface Listener {
  readonly port: number;
  readonly host: string;
  /** Open connections, for leak checks. */
  connections(): number;
  close(): Promise<void>;
}

const H2_SETTINGS: http2.Settings = {
  // Room for a 10 MiB record in flight without stalling on flow control.
  initialWindowSize: 16 * 1024 * 1024,
  maxConcurrentStreams: 1000,
};

/**
 * One port, every protocol: the first bytes of a connection tell cleartext HTTP/2 with prior
 * knowledge (the preface starts `PRI `, which the JS SDK v3 sends for every call), a TLS handshake
 * (0x16) whose ALPN then picks h2 or http/1.1, or plain HTTP/1.1.
 */
export async function listen(opts: ListenOptions, handler: (req: Request, res: Response) => void): Promise<Listener> {
  const h1 = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 }, handler);
  const h2 = http2.createServer({ settings: H2_SETTINGS, maxSessionMemory: 64 }, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const watchSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    // The stream window is raised by H2_SETTINGS; the connection window needs its own call, or
    // multi-MiB PutRecords bodies stall on Node's 64 KiB default waiting for window updates.
    const widen = () => {
      try {
        session.setLocalWindowSize(H2_SETTINGS.initialWindowSize!);
      } catch {
        // A session closing as it opens has no window to widen.
      }
    };
    if (session.connecting) session.once('connect', widen);
    else widen();
    // A peer that sends garbage frames costs its own session, never the process.
    session.on('error', () => session.destroy());
    session.on('close', () => sessions.delete(session));
  };
  h2.on('session', watchSession);
  h2.on('sessionError', () => undefined);
  h2.on('stream', (stream) => stream.on('error', () => undefined));
  h1.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  let secure: tls.Server | undefined;
  if (opts.tls) {
    const h2s = http2.createSecureServer({ key: opts.tls.key, cert: opts.tls.cert, allowHTTP1: true, settings: H2_SETTINGS, maxSessionMemory: 64 }, handler);
    h2s.on('session', watchSession);
    h2s.on('sessionError', () => undefined);
    h2s.on('stream', (stream) => stream.on('error', () => undefined));
    h2s.on('tlsClientError', () => undefined);
    secure = h2s;
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    let seen: Buffer = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      // Too few bytes to tell `PRI` from a short HTTP/1.1 method yet: wait for more.
      if (seen.length < 3 && seen[0] !== 0x16 && 'PRI'.startsWith(seen.toString('latin1'))) {
        socket.once('data', sniff);
        return;
      }
      socket.pause();
      if (seen[0] === 0x16 && secure) secure.emit('connection', replay(socket, seen));
      else if (seen.toString('latin1', 0, 3) === 'PRI') {
        // Http2Session feeds itself what is already buffered on the socket (node's
        // "Socket already has some buffered data - emulate receiving it") and then reads the
        // native handle directly: give the bytes back and leave the socket paused.
        socket.unshift(seen);
        h2.emit('connection', socket);
      }
      else {
        // The HTTP/1.1 parser reads through the stream, so giving the bytes back is enough.
        socket.unshift(seen);
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.once('data', sniff);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;

  return {
    port: addr.port,
    host: opts.host,
    connections: () => sockets.size,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.close();
        for (const s of sockets) s.destroy();
      });
      h1.close();
      h2.close();
      secure?.close();
    },
  };
}

/**
 * TLS reads straight from the socket's native handle, past anything unshifted into the stream,
 * so the sniffed bytes are replayed through a Duplex in front of the socket instead.
 */
function replay(socket: net.Socket, head: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!d.push(chunk)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('drain', () => d.emit('drain'));
  // What http2 and tls ask of a socket beyond the stream.
  Object.assign(d, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    setNoDelay: () => d,
    setKeepAlive: () => d,
    setTimeout: (ms: number, cb?: () => void) => {
      socket.setTimeout(ms, cb);
      return d;
    },
  });
  return d;
}
