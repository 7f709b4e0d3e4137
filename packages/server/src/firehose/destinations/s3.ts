/**
 * Where S3 objects go: any S3-compatible endpoint through @aws-sdk/client-s3 (region,
 * credentials, path-style addressing), or, when no endpoint is configured, a local directory laid
 * out as `<dir>/<bucket>/<key>` so that the embedded default needs nothing else (issue 5, point 5).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

export interface ObjectStore {
  /** Stores an object; resolves once it is durable (local: fsync'd; S3: acknowledged). */
  put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<void>;
  /** Human-readable location of an object, for logs. */
  describe(bucket: string, key: string): string;
  close(): Promise<void>;
}

export interface S3Options {
  /** Local directory of the bucket layout (used when `endpoint` is not set). */
  readonly dir: string;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
  /** Path-style URLs (`http://host/bucket/key`), which most S3-compatible servers need. */
  readonly forcePathStyle?: boolean | undefined;
}

export function openObjectStore(o: S3Options): ObjectStore {
  return o.endpoint ? new S3ObjectStore(o) : new LocalObjectStore(o.dir);
}

/** The bucket name of an S3 bucket ARN (`arn:aws:s3:::bucket`). */
export function bucketOf(bucketArn: string): string {
  const i = bucketArn.indexOf(':::');
  return i < 0 ? bucketArn : bucketArn.slice(i + 3);
}

/**
 * `<dir>/<bucket>/<key>`. Objects are written to a temporary file, fsync'd, renamed into place and
 * the directory fsync'd, so a reader never sees half an object and a crash never loses one that
 * was reported delivered.
 */
export class LocalObjectStore implements ObjectStore {
  readonly #dir: string;
  readonly #tmp: string;
  constructor(dir: string) {
    this.#dir = resolve(dir);
    this.#tmp = join(this.#dir, '.eddy-tmp');
  }

  pathOf(bucket: string, key: string): string {
    const p = resolve(this.#dir, bucket, ...key.split('/'));
    // Keys are evaluated from user prefixes and partition keys: never let one climb out of its bucket.
    const root = resolve(this.#dir, bucket) + sep;
    if (!p.startsWith(root) || bucket.includes('/') || bucket === '' || bucket.startsWith('.')) {
      throw new Error(`object key ${JSON.stringify(key)} in bucket ${bucket} leaves the bucket directory`);
    }
    return p;
  }

  describe(bucket: string, key: string): string {
    return this.pathOf(bucket, key);
  }

  async put(bucket: string, key: string, body: Buffer): Promise<void> {
    const dest = this.pathOf(bucket, key);
    await mkdir(this.#tmp, { recursive: true });
    const tmp = join(this.#tmp, randomUUID());
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      const parent = dirname(dest);
      await mkdir(parent, { recursive: true });
      await rename(tmp, dest);
      await syncDir(parent);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async close(): Promise<void> {}
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

type S3Client = import('@aws-sdk/client-s3').S3Client;
type S3Module = typeof import('@aws-sdk/client-s3');

/** An S3-compatible endpoint. The SDK is loaded on first use, so servers that never deliver to S3 do not pay for it. */
export class S3ObjectStore implements ObjectStore {
  readonly #o: S3Options;
  #client: Promise<{ client: S3Client; mod: S3Module }> | undefined;
  constructor(o: S3Options) {
    this.#o = o;
  }

  #get(): Promise<{ client: S3Client; mod: S3Module }> {
    this.#client ??= import('@aws-sdk/client-s3').then((mod) => {
      const o = this.#o;
      const client = new mod.S3Client({
        ...(o.endpoint ? { endpoint: o.endpoint } : {}),
        region: o.region ?? 'us-east-1',
        forcePathStyle: o.forcePathStyle ?? true,
        ...(o.accessKeyId && o.secretAccessKey ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } } : {}),
        // Delivery has its own retry schedule (checklist 4.5); one attempt per try keeps it honest.
        maxAttempts: 1,
      });
      return { client, mod };
    });
    return this.#client;
  }

  describe(bucket: string, key: string): string {
    return `s3://${bucket}/${key}`;
  }

  async put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<void> {
    const { client, mod } = await this.#get();
    await client.send(new mod.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(contentType ? { ContentType: contentType } : {}) }));
  }

  async close(): Promise<void> {
    if (this.#client) (await this.#client).client.destroy();
  }
}
