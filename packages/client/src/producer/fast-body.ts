// PutRecords bodies written with Buffer's native base64 instead of the SDK's serializer.
//
// The SDK (v3.11xx) serialises blobs with a byte-by-byte base64 loop in JS: measured at 70-80 MB/s
// of record data on this machine, i.e. about half a core at 300,000 aggregated 100-byte records/s
// (bench/producer.mjs). Here the SDK still builds, signs and sends the request; only the body is
// replaced, in a middleware of our own PutRecordsCommand (the caller's client is not touched),
// before Content-Length and SigV4 are computed. The first call of a producer goes the ordinary
// way and checks that the client speaks AWS JSON 1.1 to Kinesis_20131202.PutRecords; only then
// are later calls given no entries for the SDK to serialise, and the body is written here. Any
// other protocol (a future SDK, a custom client) keeps the ordinary path.
//
// Two costs leave the producer's thread or the heap as well (bench/producer.mjs, 100-byte records):
// base64 is encoded once per call (one string per record was about 170 bytes of young-generation
// garbage per aggregated user record, which made the GC run a fifth more often; see
// putRecordsBody), and the SigV4 payload hash (SHA-256 of the body, ~0.2 µs per user record) is
// computed by WebCrypto on libuv's thread pool and handed to the signer in x-amz-content-sha256,
// which it then uses instead of hashing the body (@smithy/signature-v4 getPayloadHash). The SDK
// sends that header on Kinesis calls anyway (its signer's applyChecksum defaults to true).
import { subtle } from 'node:crypto';
import { PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';

export interface BodyRecord {
  data: Buffer;
  partitionKey: string;
  explicitHashKey: string | undefined;
}

const TARGET = 'Kinesis_20131202.PutRecords';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
const SHA256_HEADER = 'x-amz-content-sha256';

/** Reused by putRecordsBody (synchronous) up to this size: every record's data, 3-byte aligned. */
const SCRATCH_KEEP = 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(0);

/** The AWS JSON 1.1 body of PutRecords (member names as in the model), written into one Buffer. */
export function putRecordsBody(stream: { StreamName: string } | { StreamARN: string }, records: readonly BodyRecord[]): Buffer {
  const head = 'StreamName' in stream ? `{"StreamName":${JSON.stringify(stream.StreamName)},"Records":[` : `{"StreamARN":${JSON.stringify(stream.StreamARN)},"Records":[`;
  const pks: string[] = new Array(records.length);
  let size = Buffer.byteLength(head, 'utf8') + 2;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as BodyRecord;
    const pk = JSON.stringify(r.partitionKey);
    pks[i] = pk;
    // {"Data":"<b64>","PartitionKey":<pk>} plus ,"ExplicitHashKey":"<ehk>" plus a comma.
    size += 9 + 4 * Math.ceil(r.data.length / 3) + 17 + Buffer.byteLength(pk, 'utf8') + 1 + 1;
    if (r.explicitHashKey !== undefined) size += 21 + r.explicitHashKey.length;
  }
  // All the base64 in one native call: records' data side by side, each starting at a multiple of
  // 3 bytes, so that each one's characters are a run of the whole's. A partial last group is
  // followed by zero bytes, which encode as the zero bits that padding stands for; its '='
  // characters are written here. The one string is external (outside the V8 heap) above ~1 MB
  // (Node's EXTERN_APEX), unlike one string per record, which the young generation had to absorb.
  let dataBytes = 0;
  for (let i = 0; i < records.length; i++) dataBytes += ceil3((records[i] as BodyRecord).data.length);
  let all = scratch;
  if (all.length < dataBytes) {
    all = Buffer.allocUnsafeSlow(dataBytes);
    if (dataBytes <= SCRATCH_KEEP) scratch = all;
  }
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const d = (records[i] as BodyRecord).data;
    all.set(d, at);
    const end = ceil3(d.length);
    for (let j = d.length; j < end; j++) all[at + j] = 0;
    at += end;
  }
  const b64 = all.toString('base64', 0, dataBytes);
  let from = 0;
  const buf = Buffer.allocUnsafe(size);
  let off = buf.write(head, 0, 'utf8');
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as BodyRecord;
    if (i > 0) buf[off++] = 0x2c; // ,
    off += buf.write('{"Data":"', off, 'latin1');
    const n = r.data.length;
    const rem = n % 3;
    // Whole groups, then 2 or 3 characters of a partial one.
    const chars = ((n - rem) / 3) * 4 + (rem === 0 ? 0 : rem + 1);
    off += buf.write(from === 0 && chars === b64.length ? b64 : b64.slice(from, from + chars), off, 'latin1');
    if (rem !== 0) {
      buf[off++] = 0x3d; // =
      if (rem === 1) buf[off++] = 0x3d;
    }
    from += (ceil3(n) / 3) * 4;
    off += buf.write('","PartitionKey":', off, 'latin1');
    off += buf.write(pks[i] as string, off, 'utf8');
    if (r.explicitHashKey !== undefined) {
      off += buf.write(',"ExplicitHashKey":"', off, 'latin1');
      off += buf.write(r.explicitHashKey, off, 'latin1');
      buf[off++] = 0x22; // "
    }
    buf[off++] = 0x7d; // }
  }
  buf[off++] = 0x5d; // ]
  buf[off++] = 0x7d; // }
  return buf.subarray(0, off);
}

function ceil3(n: number): number {
  const r = n % 3;
  return r === 0 ? n : n + 3 - r;
}

interface RequestLike {
  headers: Record<string, string>;
  body?: unknown;
}

function header(req: RequestLike, name: string): string | undefined {
  for (const k of Object.keys(req.headers)) if (k.toLowerCase() === name) return req.headers[k];
  return undefined;
}

function isRequest(r: unknown): r is RequestLike {
  return typeof r === 'object' && r !== null && typeof (r as { headers?: unknown }).headers === 'object' && (r as { headers?: unknown }).headers !== null;
}

export class FastBody {
  /** undefined: not yet known (the next call probes). */
  #usable: boolean | undefined;

  constructor(enabled: boolean) {
    this.#usable = enabled ? undefined : false;
  }

  get active(): boolean {
    return this.#usable === true;
  }

  /**
   * A PutRecordsCommand for `records`, with the fast body when the client is known to allow it.
   * `prepare` runs right before the records' data are first read (now, or when the body is built).
   */
  command(stream: { StreamName: string } | { StreamARN: string }, records: readonly BodyRecord[], prepare?: () => void): PutRecordsCommand {
    const fast = this.#usable === true;
    const probe = this.#usable === undefined;
    if (!fast) prepare?.();
    // On the fast path the SDK serialises (and its logger filters) no entries at all.
    const entries: PutRecordsRequestEntry[] = fast ? [] : new Array(records.length);
    if (!fast) {
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as BodyRecord;
        entries[i] = r.explicitHashKey === undefined ? { Data: r.data, PartitionKey: r.partitionKey } : { Data: r.data, PartitionKey: r.partitionKey, ExplicitHashKey: r.explicitHashKey };
      }
    }
    const cmd = new PutRecordsCommand({ ...stream, Records: entries });
    if (!fast && !probe) return cmd;
    cmd.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request;
        const ok = isRequest(req) && header(req, 'x-amz-target') === TARGET && header(req, 'content-type') === CONTENT_TYPE;
        if (probe) {
          this.#usable = ok;
          return next(args);
        }
        if (!ok || !isRequest(req)) {
          // Cannot happen with the client that passed the probe; never send empty records.
          this.#usable = false;
          throw new Error('PutRecords: the client no longer speaks AWS JSON 1.1; retrying through the SDK serializer');
        }
        prepare?.();
        const body = putRecordsBody(stream, records);
        for (const k of Object.keys(req.headers)) {
          const l = k.toLowerCase();
          if (l === 'content-length' || l === SHA256_HEADER) delete req.headers[k];
        }
        req.headers['content-length'] = String(body.length);
        req.headers[SHA256_HEADER] = Buffer.from(await subtle.digest('SHA-256', body)).toString('hex');
        req.body = body;
        return next(args);
      },
      { step: 'build', priority: 'high', name: 'eddyProducerFastBody' },
    );
    return cmd;
  }
}
