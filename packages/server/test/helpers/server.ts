import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ManualClock } from '../../src/core/clock.js';
import { type Eddy, type EddyOptions, startEddy } from '../../src/server.js';

export const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

export interface TestServer {
  readonly eddy: Eddy;
  /** The SDK as users get it: its default HTTP/2 handler. */
  readonly kinesis: KinesisClient;
  /** The SDK over HTTP/1.1. */
  readonly kinesis1: KinesisClient;
  readonly clock: ManualClock | undefined;
  readonly dataDir: string | undefined;
  close(): Promise<void>;
}

let counter = 0;
/** A unique resource name for this test run. */
export function uniqueName(prefix = 's'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export function client(endpoint: string, http1 = false, extra: Record<string, unknown> = {}): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
    ...extra,
  });
}

/**
 * An Eddy on a free loopback port with state changes immediate. `manualClock` makes time move
 * only when the test says so; `disk` uses embedded storage in a fresh temp dir.
 */
export async function startTestServer(opts: { manualClock?: boolean; disk?: boolean; options?: Partial<EddyOptions> } = {}): Promise<TestServer> {
  const clock = opts.manualClock ? new ManualClock(Date.now()) : undefined;
  const dataDir = opts.disk ? await mkdtemp(join(tmpdir(), 'eddy-test-')) : undefined;
  const eddy = await startEddy({
    port: 0,
    host: '127.0.0.1',
    memory: !opts.disk,
    ...(dataDir ? { dataDir } : {}),
    stateDelayMs: 0,
    throttle: false,
    ...(clock ? { clock } : {}),
    log: () => undefined,
    ...opts.options,
  });
  const kinesis = client(eddy.endpoint);
  const kinesis1 = client(eddy.endpoint, true);
  return {
    eddy,
    kinesis,
    kinesis1,
    clock,
    dataDir,
    async close() {
      kinesis.destroy();
      kinesis1.destroy();
      await eddy.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Raw request helper for wire-level tests: returns status, headers and parsed JSON body. */
export async function rawPost(endpoint: string, target: string | undefined, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      ...(target !== undefined ? { 'X-Amz-Target': target } : {}),
      ...headers,
    },
    body,
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
