import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type Piece, RecordReader, type RecordReaderOptions } from '../../src/agent/record-reader.js';

const MAX = 1024;

function readAll(input: string, o: Partial<RecordReaderOptions> = {}, chunks: number[] = [], headerLines = 0): { pieces: Piece[]; reader: RecordReader } {
  const r = new RecordReader({ maxRecordBytes: MAX, ...o }, 0, headerLines, Buffer.alloc(0));
  const buf = Buffer.from(input, 'utf8');
  const pieces: Piece[] = [];
  let pos = 0;
  for (const n of chunks) {
    if (pos >= buf.length) break;
    pieces.push(...r.push(buf.subarray(pos, Math.min(buf.length, pos + n))));
    pos += n;
  }
  if (pos < buf.length) pieces.push(...r.push(buf.subarray(pos)));
  return { pieces, reader: r };
}

const records = (ps: Piece[]): string[] => ps.filter((p) => p.kind === 'record').map((p) => (p.kind === 'record' ? p.data.toString('utf8') : ''));

describe('record reader', () => {
  test('one record per line, newline included; a partial line waits', () => {
    const { pieces, reader } = readAll('a\nbb\nccc', {}, [1, 2, 1]);
    assert.deepEqual(records(pieces), ['a\n', 'bb\n']);
    assert.deepEqual(
      pieces.map((p) => [p.start, p.end]),
      [
        [0, 2],
        [2, 5],
      ],
    );
    assert.equal(reader.hasPending, true);
    assert.equal(reader.pendingBytes, 3);
    assert.deepEqual(records(reader.flush(false)), []);
    assert.deepEqual(records(reader.flush(true)), ['ccc']);
  });

  test('skipHeaderLines skips the first lines of a file read from its start', () => {
    const { pieces } = readAll('h1,h2\nx,y\n1,2\n', {}, [], 1);
    assert.deepEqual(
      pieces.map((p) => p.kind),
      ['skip', 'record', 'record'],
    );
    assert.deepEqual(records(pieces), ['x,y\n', '1,2\n']);
  });

  test('multiLineStartPattern: a record runs from a matching line to the next', () => {
    const log = [
      '2024-03-01 12:00:00 INFO started',
      '2024-03-01 12:00:01 ERROR failed',
      'java.lang.RuntimeException: boom',
      '\tat A.b(A.java:1)',
      '2024-03-01 12:00:02 INFO recovered',
      '',
    ].join('\n');
    const { pieces, reader } = readAll(log, { multiLineStartPattern: /^(?:\d{4}-\d{2}-\d{2})/ }, [7, 13, 3]);
    assert.deepEqual(records(pieces), ['2024-03-01 12:00:00 INFO started\n', '2024-03-01 12:00:01 ERROR failed\njava.lang.RuntimeException: boom\n\tat A.b(A.java:1)\n']);
    // The last record may still grow; it is ended by the next start line or by a flush.
    assert.deepEqual(records(reader.flush(false)), ['2024-03-01 12:00:02 INFO recovered\n']);
  });

  test('fileFooterPattern ends the file: that line and the rest are skipped', () => {
    const { pieces } = readAll('a\nb\n--END--\nc\n', { fileFooterPattern: /^--END--/m });
    assert.deepEqual(records(pieces), ['a\n', 'b\n']);
    assert.deepEqual(
      pieces.map((p) => p.kind),
      ['record', 'record', 'skip', 'skip'],
    );
  });

  test('a runaway line is cut at the limit and the rest of it is dropped', () => {
    const long = 'y'.repeat(MAX * 3);
    const { pieces } = readAll(`a\n${long}\nb\n`, {}, [100, 1000, 1000, 1000]);
    const rs = records(pieces);
    assert.equal(rs.length, 3);
    assert.equal(rs[1], 'y'.repeat(MAX));
    assert.equal(rs[2], 'b\n');
    assert.deepEqual(pieces[1] && [pieces[1].start, pieces[1].end], [2, 3 + MAX * 3]);
  });

  test('tails are the bytes just before each piece end', () => {
    const { pieces } = readAll('0123456789\nabc\n', {}, [4, 4, 4]);
    assert.equal(pieces[0]?.tail.bytes.toString(), '0123456789\n');
    assert.equal(pieces[1]?.tail.bytes.toString(), '0123456789\nabc\n');
  });

  test('property: pieces tile the input exactly, whatever the chunking, and the records are its lines', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z \t]{0,30}$/), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 60 }),
        fc.boolean(),
        (ls, chunks, multi) => {
          const input = ls.map((l) => `${l}\n`).join('');
          const { pieces, reader } = readAll(input, multi ? { multiLineStartPattern: /^(?:[a-z])/ } : {}, chunks);
          const all = [...pieces, ...reader.flush(true)];
          let at = 0;
          const bytes = Buffer.from(input);
          for (const p of all) {
            assert.equal(p.start, at);
            at = p.end;
            assert.deepEqual(p.tail.bytes, bytes.subarray(Math.max(0, p.end - 256), p.end));
          }
          assert.equal(at, Buffer.byteLength(input));
          assert.equal(records(all).join(''), input);
          if (!multi) assert.deepEqual(records(all), ls.map((l) => `${l}\n`));
        },
      ),
      { numRuns: 300 },
    );
  });
});
