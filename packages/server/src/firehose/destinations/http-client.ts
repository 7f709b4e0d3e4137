/**
 * One HTTP(S) request with a deadline and a bounded response, for the destinations and the Lambda
 * Invoke client. Redirects are not followed (Firehose's HTTP endpoint contract: 3xx is a failure).
 *
 * Host names under `.localhost` resolve to the loopback address (RFC 6761 6.3) whatever the
 * system resolver says: AWS's patterns want names like `pg.redshift.localhost` or
 * `https://search.localhost`, and local test set-ups should not need /etc/hosts entries.
 * Credentials in the URL (`https://user:pass@host/`) become Basic authorization.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequestRaw, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequestRaw } from 'node:https';

export interface HttpRequestOptions {
  url: string;
  method: string;
  headers?: Record<string, string> | undefined;
  body?: Buffer | undefined;
  /** Whole request, connection to last response byte. */
  timeoutMs: number;
  /** Responses beyond this fail with code 'too-large' (default 16 MiB). */
  maxResponseBytes?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type HttpFailure = 'timeout' | 'refused' | 'reset' | 'dns' | 'tls' | 'aborted' | 'too-large' | 'other';

export class HttpRequestError extends Error {
  constructor(
    readonly failure: HttpFailure,
    message: string,
  ) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

/** True for `localhost` and names under it. */
export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

function lookup(hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  if (isLocalhostName(hostname)) {
    if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dnsLookup(hostname, options, callback as never);
}

function classify(e: NodeJS.ErrnoException): HttpFailure {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return /CERT|SSL|TLS|self.signed/i.test(`${e.code ?? ''} ${e.message}`) ? 'tls' : 'other';
  }
}

export function httpRequest(o: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      reject(new HttpRequestError('other', `invalid URL ${o.url}`));
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      reject(new HttpRequestError('other', `unsupported URL scheme ${url.protocol}`));
      return;
    }
    if (o.signal?.aborted) {
      reject(new HttpRequestError('aborted', 'aborted'));
      return;
    }
    const headers: Record<string, string> = { ...o.headers };
    if ((url.username || url.password) && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    }
    if (o.body !== undefined) headers['Content-Length'] = String(o.body.length);
    const options: RequestOptions = {
      method: o.method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers,
      lookup,
    };
    const max = o.maxResponseBytes ?? 16 * 1024 * 1024;
    let settled = false;
    const finish = (err: HttpRequestError | undefined, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const req = (url.protocol === 'https:' ? httpsRequestRaw : httpRequestRaw)(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          req.destroy();
          finish(new HttpRequestError('too-large', `response larger than ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e: NodeJS.ErrnoException) => finish(new HttpRequestError(classify(e), e.message)));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(new HttpRequestError('timeout', `no complete response within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    const onAbort = (): void => {
      req.destroy();
      finish(new HttpRequestError('aborted', 'aborted'));
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => finish(new HttpRequestError(classify(e), `${e.code ?? 'error'}: ${e.message}`)));
    req.end(o.body);
  });
}
