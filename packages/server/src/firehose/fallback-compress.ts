/**
 * Stand-in for compress.ts until it lands: UNCOMPRESSED and GZIP only (node:zlib). Same signatures.
 */
import { gzipSync } from 'node:zlib';
import type { CompressionFormat } from './types.js';

export function compress(format: CompressionFormat, data: Buffer, _entryName: string): Buffer {
  switch (format) {
    case 'UNCOMPRESSED':
      return data;
    case 'GZIP':
      return gzipSync(data);
    default:
      throw new Error(`compression ${format} is not available yet`);
  }
}

export function fileExtension(format: CompressionFormat): string {
  switch (format) {
    case 'GZIP':
      return '.gz';
    case 'ZIP':
      return '.zip';
    case 'Snappy':
    case 'HADOOP_SNAPPY':
      return '.snappy';
    default:
      return '';
  }
}
