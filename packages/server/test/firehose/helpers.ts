import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createRequire } from 'node:module';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { credentials } from '../helpers/server.js';

export const ROLE = 'arn:aws:iam::000000000000:role/firehose';

export function firehoseClient(endpoint: string, http1 = false, region = 'us-east-1'): FirehoseClient {
  return new FirehoseClient({
    endpoint,
    region,
    credentials,
    maxAttempts: 1,
    ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
  });
}

export interface S3Object {
  readonly bucket: string;
  readonly key: string;
  readonly body: Buffer;
  /** When the object was written (objects of one stream are written one after another). */
  readonly mtimeMs: number;
}

/** Every object of the local bucket layout `<dataDir>/s3/<bucket>/<key>`, sorted by bucket and key. */
export function listObjects(dataDir: string, bucket?: string): S3Object[] {
  const root = join(dataDir, 's3');
  const out: S3Object[] = [];
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      const st = statSync(p, { bigint: true });
      if (st.isDirectory()) {
        if (e !== '.eddy-tmp') walk(p);
        continue;
      }
      const [b, ...rest] = relative(root, p).split(sep);
      out.push({ bucket: b!, key: rest.join('/'), body: readFileSync(p), mtimeMs: Number(st.mtimeNs) / 1e6 });
    }
  };
  walk(bucket === undefined ? root : join(root, bucket));
  return out.sort((a, b) => (a.bucket + a.key < b.bucket + b.key ? -1 : 1));
}

/** Polls (real time) until f returns a value that is not undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(f: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the bucket holds at least n objects. */
export function waitForObjects(dataDir: string, bucket: string, n: number, timeoutMs?: number): Promise<S3Object[]> {
  return waitFor(() => {
    const objs = listObjects(dataDir, bucket);
    return objs.length >= n ? objs : undefined;
  }, `${n} object(s) in bucket ${bucket}`, timeoutMs);
}

export function gunzip(b: Buffer): Buffer {
  return gunzipSync(b);
}

/**
 * `<prefix><name>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><ext>` (developer guide, "Amazon S3 object
 * name format"); the default prefix is `YYYY/MM/dd/HH/`.
 */
export function keyPattern(name: string, version = 1, ext = '', prefix = '\\d{4}/\\d{2}/\\d{2}/\\d{2}/'): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^${prefix}${esc(name)}-${version}-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}${esc(ext)}$`,
  );
}

/** `{ i: n }` records as JSON lines. */
export function jsonRecords(from: number, n: number, extra: (i: number) => Record<string, unknown> = () => ({})): { Data: Uint8Array }[] {
  return Array.from({ length: n }, (_, k) => ({ Data: Buffer.from(JSON.stringify({ i: from + k, ...extra(from + k) })) }));
}

const snappy = createRequire(import.meta.url)('snappyjs') as { uncompress(b: Uint8Array): Uint8Array };

/** An object's content, decompressed according to its key's extension (.gz, .zip, .snappy, .hsnappy). */
export function decode(key: string, body: Buffer): Buffer {
  if (key.endsWith('.gz')) return gunzipSync(body);
  if (key.endsWith('.zip')) {
    // One entry: local header (APPNOTE 4.3.7), then the deflated data.
    assert.equal(body.readUInt32LE(0), 0x04034b50, 'ZIP local file header');
    const size = body.readUInt32LE(18);
    const start = 30 + body.readUInt16LE(26) + body.readUInt16LE(28);
    return inflateRawSync(body.subarray(start, start + size));
  }
  if (key.endsWith('.hsnappy')) {
    const out: Buffer[] = [];
    for (let i = 0; i < body.length; ) {
      const n = body.readUInt32BE(i + 4);
      out.push(Buffer.from(snappy.uncompress(body.subarray(i + 8, i + 8 + n))));
      i += 8 + n;
    }
    return Buffer.concat(out);
  }
  if (key.endsWith('.snappy')) {
    // Snappy framing format: stream identifier, then chunks (type, 3-byte length, CRC, payload).
    assert.equal(body.subarray(4, 10).toString('latin1'), 'sNaPpY', 'snappy stream identifier');
    const out: Buffer[] = [];
    for (let i = 10; i < body.length; ) {
      const type = body[i]!;
      const len = body.readUIntLE(i + 1, 3);
      const payload = body.subarray(i + 8, i + 4 + len);
      if (type === 0x00) out.push(Buffer.from(snappy.uncompress(payload)));
      else if (type === 0x01) out.push(Buffer.from(payload));
      i += 4 + len;
    }
    return Buffer.concat(out);
  }
  return body;
}

/** Objects in the order they were written. */
export function byWriteTime(objects: readonly S3Object[]): S3Object[] {
  return [...objects].sort((a, b) => a.mtimeMs - b.mtimeMs);
}
