/**
 * The S3 object compressions of Firehose (`CompressionFormat`): GZIP, ZIP, Snappy (the snappy
 * framing format) and HADOOP_SNAPPY (Hadoop's block stream). Each output is a complete file that
 * the usual tools open: `gunzip`, `unzip`, `snzip -t framing` / python-snappy `stream_decompress`,
 * `hadoop fs -text` / `snzip -t hadoop-snappy`.
 */
import { createRequire } from 'node:module';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';

export const CompressionFormat = {
  UNCOMPRESSED: 'UNCOMPRESSED',
  GZIP: 'GZIP',
  ZIP: 'ZIP',
  Snappy: 'Snappy',
  HADOOP_SNAPPY: 'HADOOP_SNAPPY',
} as const;
export type CompressionFormat = (typeof CompressionFormat)[keyof typeof CompressionFormat];

/** The raw snappy block codec (snappyjs has no type declarations). */
interface SnappyBlockCodec {
  compress(input: Uint8Array): Uint8Array;
  uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
}
export const snappyBlock = createRequire(import.meta.url)('snappyjs') as SnappyBlockCodec;

/** Compresses one S3 object's bytes. `entryName` names the single file inside a ZIP archive. */
export function compress(format: CompressionFormat, data: Buffer, entryName: string): Buffer {
  switch (format) {
    case 'UNCOMPRESSED':
      return data;
    case 'GZIP':
      return gzipSync(data);
    case 'ZIP':
      return zipOneFile(entryName, data);
    case 'Snappy':
      return snappyFramed(data);
    case 'HADOOP_SNAPPY':
      return hadoopSnappy(data);
    default:
      throw new TypeError(`unknown CompressionFormat '${String(format)}'`);
  }
}

/**
 * The suffix Firehose appends to object keys: "Configure Amazon S3 object name format" (AWS
 * Firehose developer guide) lists .gz, .zip, .snappy and .hsnappy for Hadoop-Snappy; none when
 * uncompressed. A configured `FileExtension` replaces it (the caller's concern).
 */
export function fileExtension(format: CompressionFormat): string {
  switch (format) {
    case 'UNCOMPRESSED':
      return '';
    case 'GZIP':
      return '.gz';
    case 'ZIP':
      return '.zip';
    case 'Snappy':
      return '.snappy';
    case 'HADOOP_SNAPPY':
      return '.hsnappy';
    default:
      throw new TypeError(`unknown CompressionFormat '${String(format)}'`);
  }
}

/** The extension for Parquet output of record format conversion (same AWS table). */
export const parquetFileExtension = '.parquet';

// ---------------------------------------------------------------------------------------------
// ZIP: one deflated entry, written by hand (APPNOTE.TXT 6.3: local header, data, central
// directory, end of central directory).

const ZIP_MAX = 0xffffffff;

export function zipOneFile(name: string, data: Buffer, modified: Date = new Date()): Buffer {
  if (data.length >= ZIP_MAX) throw new RangeError('ZIP entries of 4 GiB or more need ZIP64, which Firehose buffers never reach');
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 0xffff) throw new RangeError('ZIP entry name longer than 65535 bytes');
  const deflated = deflateRawSync(data);
  const crc = crc32(data) >>> 0;
  // Bit 11: the name is UTF-8 (APPNOTE 4.4.4), set only when it is not plain ASCII.
  const flags = /^[\x20-\x7e]*$/.test(name) ? 0 : 0x0800;
  const { time, date } = dosDateTime(modified);

  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
  local.writeUInt16LE(flags, 6);
  local.writeUInt16LE(8, 8); // method: deflate
  local.writeUInt16LE(time, 10);
  local.writeUInt16LE(date, 12);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  local.writeUInt16LE(0, 28); // extra length

  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(flags, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt16LE(time, 12);
  central.writeUInt16LE(date, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  // extra, comment, disk number, internal attributes: 0
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: regular file rw-r--r--
  central.writeUInt32LE(0, 42); // offset of the local header

  const centralOffset = local.length + nameBytes.length + deflated.length;
  const centralSize = central.length + nameBytes.length;
  if (centralOffset >= ZIP_MAX) throw new RangeError('ZIP archive of 4 GiB or more needs ZIP64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8); // entries on this disk
  end.writeUInt16LE(1, 10); // entries in total
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(centralOffset, 16);

  return Buffer.concat([local, nameBytes, deflated, central, nameBytes, end]);
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.min(Math.max(d.getUTCFullYear(), 1980), 2107);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

// ---------------------------------------------------------------------------------------------
// Snappy framing format (google/snappy framing_format.txt): a stream identifier chunk, then
// chunks of at most 65536 uncompressed bytes, each with the masked CRC-32C of its uncompressed
// bytes. python-snappy's stream_decompress and `snzip -t framing` read it.

const SNAPPY_STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const SNAPPY_FRAME_MAX = 65536;

export function snappyFramed(data: Buffer): Buffer {
  const parts: Buffer[] = [SNAPPY_STREAM_IDENTIFIER];
  for (let off = 0; off < data.length; off += SNAPPY_FRAME_MAX) {
    const chunk = data.subarray(off, Math.min(off + SNAPPY_FRAME_MAX, data.length));
    const compressed = snappyBlock.compress(chunk);
    // framing_format.txt 4.2/4.3: a chunk may be stored uncompressed when compression does not pay.
    const useCompressed = compressed.length < chunk.length;
    const payload = useCompressed ? compressed : chunk;
    const header = Buffer.alloc(8);
    header[0] = useCompressed ? 0x00 : 0x01;
    header.writeUIntLE(payload.length + 4, 1, 3);
    header.writeUInt32LE(maskedCrc32c(chunk), 4);
    parts.push(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  }
  return Buffer.concat(parts);
}

/** framing_format.txt 3: the CRC is rotated right by 15 bits and offset by 0xa282ead8. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli); `zlib.crc32` is the IEEE polynomial, which snappy framing does not use. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Hadoop snappy (org.apache.hadoop.io.compress.BlockCompressorStream with SnappyCodec): blocks of
// at most bufferSize - (bufferSize / 6 + 32) input bytes with the default 256 KiB
// io.compression.codec.snappy.buffersize, each written as <u32 BE uncompressed length>
// <u32 BE compressed length><raw snappy block>.

const HADOOP_SNAPPY_BUFFER = 256 * 1024;
export const HADOOP_SNAPPY_BLOCK = HADOOP_SNAPPY_BUFFER - (Math.floor(HADOOP_SNAPPY_BUFFER / 6) + 32);

export function hadoopSnappy(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += HADOOP_SNAPPY_BLOCK) {
    const chunk = data.subarray(off, Math.min(off + HADOOP_SNAPPY_BLOCK, data.length));
    const compressed = snappyBlock.compress(chunk);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(chunk.length, 0);
    header.writeUInt32BE(compressed.length, 4);
    parts.push(header, Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength));
  }
  return Buffer.concat(parts);
}
