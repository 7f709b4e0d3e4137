/**
 * The records of one write (PutRecords, PutRecord), column by column: every record's data in one
 * buffer, every partition key (UTF-8) in another, and their bounds in one Int32Array, so a call of
 * 500 records makes a handful of objects instead of a few thousand. The PutRecords fast path
 * (wire/fast-put-records.ts) decodes into this shape directly: data into a fresh buffer, keys left
 * where they are in the request body. Storage takes the same columns (storage/types.ts, ColumnAppend).
 */
export interface WriteRequest {
  readonly Data: Uint8Array;
  readonly PartitionKey: string;
  readonly ExplicitHashKey?: string | undefined;
}

export class RecordBatch {
  constructor(
    readonly count: number,
    /** Record i's data is data[bounds[4i], bounds[4i+1]). */
    readonly data: Buffer,
    /** Record i's partition key, UTF-8, is keys[bounds[4i+2], bounds[4i+3]). */
    readonly keys: Buffer,
    readonly bounds: Int32Array,
    /** Each record's ExplicitHashKey, when any record has one. */
    readonly hashKeys: readonly (string | undefined)[] | undefined,
  ) {}

  /** The columns of records given as objects (the generic decoders' output). */
  static of(records: readonly WriteRequest[]): RecordBatch {
    const n = records.length;
    let dataBytes = 0;
    let keyBytes = 0;
    let hashed = false;
    for (const r of records) {
      dataBytes += r.Data.byteLength;
      keyBytes += Buffer.byteLength(r.PartitionKey, 'utf8');
      if (r.ExplicitHashKey !== undefined) hashed = true;
    }
    const data = Buffer.allocUnsafe(dataBytes);
    const keys = Buffer.allocUnsafe(keyBytes);
    const bounds = new Int32Array(4 * n);
    let d = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      bounds[4 * i] = d;
      data.set(r.Data, d);
      d += r.Data.byteLength;
      bounds[4 * i + 1] = d;
      bounds[4 * i + 2] = k;
      k += keys.write(r.PartitionKey, k, 'utf8');
      bounds[4 * i + 3] = k;
    }
    return new RecordBatch(n, data, keys, bounds, hashed ? records.map((r) => r.ExplicitHashKey) : undefined);
  }

  dataBytes(i: number): number {
    return this.bounds[4 * i + 1]! - this.bounds[4 * i]!;
  }

  keyBytes(i: number): number {
    return this.bounds[4 * i + 3]! - this.bounds[4 * i + 2]!;
  }

  /** Record i as an object (for tests and diagnostics). */
  request(i: number): WriteRequest {
    const b = this.bounds;
    const Data = this.data.subarray(b[4 * i], b[4 * i + 1]);
    const PartitionKey = this.keys.toString('utf8', b[4 * i + 2], b[4 * i + 3]);
    const ExplicitHashKey = this.hashKeys?.[i];
    return ExplicitHashKey === undefined ? { Data, PartitionKey } : { Data, ExplicitHashKey, PartitionKey };
  }
}
