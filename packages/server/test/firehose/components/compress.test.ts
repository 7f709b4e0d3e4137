/**
 * Every CompressionFormat decoded by something other than the encoder: node:zlib for GZIP,
 * `unzip` and a central-directory reader written here for ZIP, and snappyjs behind a framing /
 * Hadoop block parser written here for Snappy and HADOOP_SNAPPY.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { compress, type CompressionFormat, crc32c, fileExtension, HADOOP_SNAPPY_BLOCK, maskedCrc32c } from '../../../src/firehose/compress.js';

const snappy = createRequire(import.meta.url)('snappyjs') as { uncompress(b: Uint8Array): Uint8Array };

const SAMPLES: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one record', Buffer.from('{"ticker":"AMZN","price":181.25}\n')],
  ['repetitive 300 KiB', Buffer.from('{"event":"click","user":"u-1"}\n'.repeat(10_000))],
  ['random 200 KiB', randomBytes(200 * 1024)],
  ['exactly 64 KiB', Buffer.alloc(65536, 7)],
  ['64 KiB + 1', Buffer.alloc(65537, 9)],
];

// ------------------------------------------------------------------------ independent decoders

/** CRC-32C bit by bit (no table), to check the encoder's table-driven one. */
function crc32cBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function unmask(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot << 15) | (rot >>> 17)) >>> 0;
}

/** google/snappy framing_format.txt, read chunk by chunk. */
function readSnappyFramed(buf: Buffer): { data: Buffer; chunks: { type: number; uncompressed: number }[] } {
  assert.ok(buf.length >= 10, 'no stream identifier');
  assert.deepEqual([...buf.subarray(0, 10)], [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
  const out: Buffer[] = [];
  const chunks: { type: number; uncompressed: number }[] = [];
  let off = 10;
  while (off < buf.length) {
    const type = buf[off]!;
    const len = buf.readUIntLE(off + 1, 3);
    const body = buf.subarray(off + 4, off + 4 + len);
    assert.equal(body.length, len, 'truncated chunk');
    const crc = body.readUInt32LE(0);
    const payload = body.subarray(4);
    let data: Buffer;
    if (type === 0x00) data = Buffer.from(snappy.uncompress(payload));
    else if (type === 0x01) data = Buffer.from(payload);
    else throw new Error(`unexpected chunk type ${type}`);
    assert.ok(data.length <= 65536, 'a chunk holds at most 65536 uncompressed bytes');
    assert.equal(unmask(crc), crc32cBitwise(data), 'masked CRC-32C of the uncompressed chunk');
    chunks.push({ type, uncompressed: data.length });
    out.push(data);
    off += 4 + len;
  }
  return { data: Buffer.concat(out), chunks };
}

/** Hadoop BlockDecompressorStream: <u32 raw length> then <u32 compressed length><block>... until raw length is reached. */
function readHadoopSnappy(buf: Buffer): { data: Buffer; frames: number[] } {
  const out: Buffer[] = [];
  const frames: number[] = [];
  let off = 0;
  while (off < buf.length) {
    const raw = buf.readUInt32BE(off);
    off += 4;
    frames.push(raw);
    let got = 0;
    while (got < raw) {
      const clen = buf.readUInt32BE(off);
      off += 4;
      const block = Buffer.from(snappy.uncompress(buf.subarray(off, off + clen)));
      off += clen;
      got += block.length;
      out.push(block);
    }
    assert.equal(got, raw, 'blocks add up to the frame length');
  }
  return { data: Buffer.concat(out), frames };
}

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  data: Buffer;
}

/** The ZIP's entries through its end-of-central-directory record and central directory (APPNOTE 4.3). */
function readZip(buf: Buffer): ZipEntry[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'no end of central directory');
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  let p = buf.readUInt32LE(eocd + 16);
  assert.equal(p + cdSize, eocd, 'central directory ends where the EOCD starts');
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50, 'central directory header signature');
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString(flags & 0x0800 ? 'utf8' : 'latin1');
    assert.equal(buf.readUInt32LE(local), 0x04034b50, 'local header signature');
    const lNameLen = buf.readUInt16LE(local + 26);
    const lExtraLen = buf.readUInt16LE(local + 28);
    assert.equal(buf.readUInt32LE(local + 14), crc, 'local and central CRC agree');
    const start = local + 30 + lNameLen + lExtraLen;
    const raw = buf.subarray(start, start + compressedSize);
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    entries.push({ name, method, flags, crc, compressedSize, size, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

const hasUnzip = spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0;

// ------------------------------------------------------------------------------------- tests

describe('compress', () => {
  it('UNCOMPRESSED returns the bytes as they are', () => {
    for (const [, data] of SAMPLES) assert.deepEqual(compress('UNCOMPRESSED', data, 'x'), data);
  });

  for (const [label, data] of SAMPLES) {
    it(`GZIP: ${label} gunzips back`, () => {
      const gz = compress('GZIP', data, 'ignored');
      assert.equal(gz[0], 0x1f);
      assert.equal(gz[1], 0x8b);
      assert.deepEqual(gunzipSync(gz), data);
    });

    it(`ZIP: ${label} is one deflated entry with the right CRC and sizes`, () => {
      const zip = compress('ZIP', data, 'stream-1-2026-11-22-03-04-05-abc');
      const entries = readZip(zip);
      assert.equal(entries.length, 1);
      const e = entries[0]!;
      assert.equal(e.name, 'stream-1-2026-11-22-03-04-05-abc');
      assert.equal(e.method, 8, 'deflate');
      assert.equal(e.size, data.length);
      assert.equal(e.crc, crc32(data) >>> 0);
      assert.deepEqual(e.data, data);
    });

    it(`Snappy: ${label} reads back as the framing format`, () => {
      const framed = compress('Snappy', data, 'ignored');
      const r = readSnappyFramed(framed);
      assert.deepEqual(r.data, data);
      assert.equal(r.chunks.length, Math.ceil(data.length / 65536));
    });

    it(`HADOOP_SNAPPY: ${label} reads back as Hadoop's block stream`, () => {
      const h = compress('HADOOP_SNAPPY', data, 'ignored');
      const r = readHadoopSnappy(h);
      assert.deepEqual(r.data, data);
      for (const f of r.frames) assert.ok(f <= HADOOP_SNAPPY_BLOCK);
    });
  }

  it('ZIP archives open with unzip (-t checks the CRC, -p extracts the entry)', { skip: !hasUnzip && 'unzip is not installed; the central-directory reader above covers the format' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'eddy-zip-'));
    try {
      const data = Buffer.from('{"a":1}\n{"a":2}\n'.repeat(5000));
      const file = join(dir, 'obj.zip');
      writeFileSync(file, compress('ZIP', data, 'records.json'));
      const t = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
      assert.equal(t.status, 0, t.stdout + t.stderr);
      assert.match(t.stdout, /No errors detected/);
      const p = spawnSync('unzip', ['-p', file, 'records.json'], { maxBuffer: 64 * 1024 * 1024 });
      assert.equal(p.status, 0);
      assert.deepEqual(p.stdout, data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ZIP marks non-ASCII entry names as UTF-8', () => {
    const e = readZip(compress('ZIP', Buffer.from('x'), 'données-é'))[0]!;
    assert.equal(e.flags & 0x0800, 0x0800);
    assert.equal(e.name, 'données-é');
    assert.equal(readZip(compress('ZIP', Buffer.from('x'), 'plain'))[0]!.flags & 0x0800, 0);
  });

  it('Snappy stores incompressible chunks uncompressed and compressible ones compressed', () => {
    assert.deepEqual(
      readSnappyFramed(compress('Snappy', randomBytes(1000), '')).chunks.map((c) => c.type),
      [0x01],
    );
    assert.deepEqual(
      readSnappyFramed(compress('Snappy', Buffer.alloc(1000, 65), '')).chunks.map((c) => c.type),
      [0x00],
    );
  });

  it('CRC-32C matches the standard check value and the bitwise reference', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    // framing_format.txt: the masked CRC is rotated right 15 bits plus 0xa282ead8.
    const c = crc32c(Buffer.from('hello'));
    assert.equal(maskedCrc32c(Buffer.from('hello')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => crc32c(b) === crc32cBitwise(b)));
  });

  it('round-trips arbitrary bytes in every format', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (u) => {
        const data = Buffer.from(u);
        assert.deepEqual(gunzipSync(compress('GZIP', data, 'e')), data);
        assert.deepEqual(readZip(compress('ZIP', data, 'e'))[0]!.data, data);
        assert.deepEqual(readSnappyFramed(compress('Snappy', data, 'e')).data, data);
        assert.deepEqual(readHadoopSnappy(compress('HADOOP_SNAPPY', data, 'e')).data, data);
      }),
      { numRuns: 40 },
    );
  });

  it('fileExtension is the suffix AWS appends ("Configure Amazon S3 object name format")', () => {
    const table: [CompressionFormat, string][] = [
      ['UNCOMPRESSED', ''],
      ['GZIP', '.gz'],
      ['ZIP', '.zip'],
      ['Snappy', '.snappy'],
      ['HADOOP_SNAPPY', '.hsnappy'],
    ];
    for (const [f, ext] of table) assert.equal(fileExtension(f), ext, f);
  });

  it('rejects an unknown format', () => {
    assert.throws(() => compress('LZ4' as CompressionFormat, Buffer.from('x'), 'x'), /unknown CompressionFormat/);
  });
});
