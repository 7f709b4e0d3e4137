/**
 * Record format conversion read back with hyparquet (an independent Parquet reader), value by
 * value for every Glue type, nested ones included, under both JSON SerDes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type FileMetaData, parquetMetadata, parquetReadObjects } from 'hyparquet';
import {
  compileJodaPattern,
  convertToParquet,
  FormatConversionError,
  type GlueColumn,
  jsonToParquet,
  loadSchemaCatalog,
  type ParquetOptions,
  parseGlueType,
} from '../../../src/firehose/parquet.js';

function arrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Rows as hyparquet reads them, timestamps as microseconds and dates as day numbers (no Date rounding). */
async function read(b: Buffer, opts: { utf8?: boolean } = {}): Promise<Record<string, unknown>[]> {
  return (await parquetReadObjects({
    file: arrayBuffer(b),
    utf8: opts.utf8 ?? true,
    compressors: { GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)) },
    parsers: { timestampFromMicroseconds: (us: bigint) => us, dateFromDays: (d: number) => d },
  })) as Record<string, unknown>[];
}

/** The unscaled integers of a DECIMAL column, read as raw FIXED_LEN_BYTE_ARRAY and decoded here. */
async function rawDecimals(b: Buffer, column: string): Promise<(bigint | null)[]> {
  const metadata: FileMetaData = parquetMetadata(arrayBuffer(b));
  const patched: FileMetaData = {
    ...metadata,
    schema: metadata.schema.map((e) => {
      if (e.name !== column) return e;
      const { converted_type: _c, logical_type: _l, ...rest } = e;
      return rest;
    }),
  };
  const rows = (await parquetReadObjects({ file: arrayBuffer(b), metadata: patched, columns: [column], utf8: false })) as Record<string, unknown>[];
  return rows.map((r) => {
    const v = r[column];
    if (v === null || v === undefined) return null;
    const bytes = v as Uint8Array;
    let n = 0n;
    for (const x of bytes) n = (n << 8n) | BigInt(x);
    const bits = BigInt(bytes.length * 8);
    return bytes.length > 0 && bytes[0]! & 0x80 ? n - (1n << bits) : n;
  });
}

const micros = (iso: string, extraMicros = 0n): bigint => BigInt(Date.parse(iso)) * 1000n + extraMicros;
const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

const ALL_TYPES: GlueColumn[] = [
  { Name: 's', Type: 'string' },
  { Name: 'v', Type: 'varchar(5)' },
  { Name: 'i', Type: 'int' },
  { Name: 'b', Type: 'bigint' },
  { Name: 'sm', Type: 'smallint' },
  { Name: 't', Type: 'tinyint' },
  { Name: 'd', Type: 'double' },
  { Name: 'f', Type: 'float' },
  { Name: 'bo', Type: 'boolean' },
  { Name: 'ts', Type: 'timestamp' },
  { Name: 'dt', Type: 'date' },
  { Name: 'dec', Type: 'decimal(38,4)' },
  { Name: 'dec2', Type: 'decimal(5,2)' },
  { Name: 'bin', Type: 'binary' },
];

describe('parquet: every Glue type', () => {
  it('writes each primitive type exactly, as hyparquet reads it back', async () => {
    const records = [
      '{"s":"héllo","v":"truncated","i":-2147483648,"b":9223372036854775807,"sm":-32768,"t":127,"d":1.7976931348623157e308,"f":0.1,"bo":true,"ts":"2026-11-22T03:04:05.123456789Z","dt":"2026-11-22","dec":"-1234567890123456789012345678901234.5678","dec2":123.455,"bin":"raw bytes"}',
      '{"s":"","i":0,"b":-9223372036854775808,"sm":0,"t":-128,"d":-0.5,"f":-3.25,"bo":false,"ts":1518033528,"dt":"1970-01-01","dec":0,"dec2":-0.005}',
      '{}',
    ];
    const file = jsonToParquet(records.map((r) => Buffer.from(r)), ALL_TYPES, {});
    const rows = await read(file);
    assert.equal(rows.length, 3);
    const [a, b, c] = rows as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(a, {
      s: 'héllo',
      v: 'trunc', // varchar(5) truncates, as Hive does
      i: -2147483648,
      b: 9223372036854775807n,
      sm: -32768,
      t: 127,
      d: 1.7976931348623157e308,
      f: Math.fround(0.1),
      bo: true,
      ts: micros('2026-11-22T03:04:05.123Z', 456n), // nanoseconds cut to microseconds
      dt: day('2026-11-22'),
      dec: a.dec, // hyparquet turns decimals into doubles: checked exactly below
      dec2: a.dec2, // 123.455 rounds half-up to 123.46: checked exactly below
      bin: 'raw bytes',
    });
    assert.deepEqual(b, {
      s: '',
      v: null,
      i: 0,
      b: -9223372036854775808n,
      sm: 0,
      t: -128,
      d: -0.5,
      f: -3.25,
      bo: false,
      ts: micros('2018-02-07T19:58:48Z'), // epoch seconds (fewer than 13 digits)
      dt: 0,
      dec: 0,
      dec2: b.dec2,
      bin: null,
    });
    for (const col of ALL_TYPES) assert.equal(c[col.Name], null, col.Name);
    assert.deepEqual(await rawDecimals(file, 'dec'), [-12345678901234567890123456789012345678n, 0n, null]);
    assert.deepEqual(await rawDecimals(file, 'dec2'), [12346n, -1n, null]);
    const bin = await read(file, { utf8: false });
    assert.deepEqual(Buffer.from(bin[0]!.bin as Uint8Array), Buffer.from('raw bytes'));
  });

  it('declares the Parquet types Hive would (all OPTIONAL)', () => {
    const md = parquetMetadata(arrayBuffer(jsonToParquet(['{}'], ALL_TYPES, {})));
    const by = Object.fromEntries(md.schema.slice(1).map((e) => [e.name, e]));
    assert.equal(by.s!.type, 'BYTE_ARRAY');
    assert.equal(by.s!.converted_type, 'UTF8');
    assert.equal(by.i!.type, 'INT32');
    assert.equal(by.b!.type, 'INT64');
    assert.equal(by.sm!.converted_type, 'INT_16');
    assert.equal(by.t!.converted_type, 'INT_8');
    assert.equal(by.f!.type, 'FLOAT');
    assert.equal(by.d!.type, 'DOUBLE');
    assert.equal(by.bo!.type, 'BOOLEAN');
    assert.equal(by.ts!.type, 'INT64');
    assert.deepEqual(by.ts!.logical_type, { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
    assert.equal(by.dt!.converted_type, 'DATE');
    assert.equal(by.dec!.type, 'FIXED_LEN_BYTE_ARRAY');
    assert.equal(by.dec!.type_length, 16); // decimal(38) needs 16 bytes
    assert.equal(by.dec2!.type_length, 3); // decimal(5) needs 3
    assert.equal(by.bin!.type, 'BYTE_ARRAY');
    assert.equal(by.bin!.converted_type, undefined);
    for (const e of md.schema.slice(1)) assert.equal(e.repetition_type, 'OPTIONAL', e.name);
  });

  it('writes arrays, maps and structs, nested, with nulls and empty collections', async () => {
    const cols: GlueColumn[] = [
      { Name: 'tags', Type: 'array<string>' },
      { Name: 'scores', Type: 'array<int>' },
      { Name: 'attrs', Type: 'map<string,bigint>' },
      { Name: 'bykey', Type: 'map<int,array<double>>' },
      { Name: 'user', Type: 'struct<id:bigint,name:string,address:struct<city:string,zip:int>,phones:array<string>>' },
      { Name: 'items', Type: 'array<struct<sku:string,qty:smallint,price:decimal(10,2)>>' },
      { Name: 'matrix', Type: 'array<array<int>>' },
    ];
    const records = [
      {
        tags: ['a', 'b'],
        scores: [1, null, 3],
        attrs: { x: 1, y: 9007199254740993n },
        bykey: { '1': [1.5, 2.5], '2': [] },
        user: { ID: 7, Name: 'Ann', address: { city: 'Oslo', zip: '0150' }, phones: ['+47'] },
        items: [
          { sku: 'A-1', qty: 2, price: 9.99 },
          { sku: 'B-2', qty: 1, price: '1000.5' },
        ],
        matrix: [[1, 2], [], [3]],
      },
      { tags: [], scores: null, attrs: {}, bykey: null, user: { id: 8 }, items: [], matrix: [] },
      {},
    ];
    const rows = await read(jsonToParquet(records, cols, {}));
    assert.deepEqual(rows[0], {
      tags: ['a', 'b'],
      scores: [1, null, 3],
      attrs: { x: 1n, y: 9007199254740993n },
      bykey: { 1: [1.5, 2.5], 2: [] },
      user: { id: 7n, name: 'Ann', address: { city: 'Oslo', zip: 150 }, phones: ['+47'] },
      items: [
        { sku: 'A-1', qty: 2, price: 9.99 },
        { sku: 'B-2', qty: 1, price: 1000.5 },
      ],
      matrix: [[1, 2], [], [3]],
    });
    assert.deepEqual(rows[1]!.tags, []);
    assert.equal(rows[1]!.scores ?? null, null);
    assert.deepEqual(rows[1]!.attrs, {});
    assert.equal(rows[1]!.bykey ?? null, null);
    const u = rows[1]!.user as Record<string, unknown>;
    assert.deepEqual([u.id, u.name ?? null, u.address ?? null, u.phones ?? null], [8n, null, null, null]);
    assert.deepEqual(rows[1]!.items, []);
    for (const col of cols) assert.equal(rows[2]![col.Name] ?? null, null, col.Name);
  });

  it('compresses with SNAPPY (default), GZIP or not at all', async () => {
    const recs = Array.from({ length: 200 }, (_, i) => ({ s: `value-${i % 7}`, i }));
    const cols: GlueColumn[] = [
      { Name: 's', Type: 'string' },
      { Name: 'i', Type: 'int' },
    ];
    for (const [compression, codec] of [
      [undefined, 'SNAPPY'],
      ['SNAPPY', 'SNAPPY'],
      ['GZIP', 'GZIP'],
      ['UNCOMPRESSED', 'UNCOMPRESSED'],
    ] as const) {
      const opts: ParquetOptions = compression === undefined ? {} : { compression };
      const file = jsonToParquet(recs, cols, opts);
      const md = parquetMetadata(arrayBuffer(file));
      assert.equal(md.row_groups[0]!.columns[0]!.meta_data!.codec, codec);
      assert.deepEqual(await read(file), recs);
    }
  });
});

describe('parquet: OpenX JSON SerDe (the default)', () => {
  const cols: GlueColumn[] = [
    { Name: 'userid', Type: 'bigint' },
    { Name: 'a_b', Type: 'string' },
    { Name: 'ts', Type: 'timestamp' },
  ];

  it('matches keys case-insensitively and converts dots when asked', async () => {
    const rows = await read(
      jsonToParquet([{ UserID: '42', 'a.b': 'dotted', TS: '2017-02-07 15:13:01.14' }], cols, { deserializer: { OpenXJsonSerDe: { ConvertDotsInJsonKeysToUnderscores: true } } }),
    );
    assert.deepEqual(rows[0], { userid: 42n, a_b: 'dotted', ts: micros('2017-02-07T15:13:01.140Z') });
  });

  it('leaves dotted keys alone and honours CaseInsensitive false and ColumnToJsonKeyMappings', async () => {
    const rows = await read(
      jsonToParquet([{ UserID: 1, userid: 2, 'a.b': 'x', when: 1518033528123 }], cols, {
        deserializer: { OpenXJsonSerDe: { CaseInsensitive: false, ColumnToJsonKeyMappings: { ts: 'when' } } },
      }),
    );
    assert.deepEqual(rows[0], { userid: 2n, a_b: null, ts: micros('2018-02-07T19:58:48.123Z') });
  });

  it('reads the timestamp forms AWS lists for OpenX', async () => {
    const table: [unknown, bigint][] = [
      ['2017-02-07T15:13:01.39256Z', micros('2017-02-07T15:13:01.392Z', 560n)],
      ['2017-02-07T15:13:01Z', micros('2017-02-07T15:13:01Z')],
      ['2017-2-7 15:13:01.14', micros('2017-02-07T15:13:01.140Z')],
      ['2017-02-07 15:13:01', micros('2017-02-07T15:13:01Z')],
      [1518033528, micros('2018-02-07T19:58:48Z')],
      ['1518033528', micros('2018-02-07T19:58:48Z')],
      [1518033528123, micros('2018-02-07T19:58:48.123Z')],
      [1518033528.123, micros('2018-02-07T19:58:48.123Z')],
      ['2017-02-07T15:13:01+02:00', micros('2017-02-07T13:13:01Z')],
    ];
    const rows = await read(jsonToParquet(table.map(([ts]) => ({ ts })), [{ Name: 'ts', Type: 'timestamp' }], {}));
    table.forEach(([input, want], k) => assert.equal(rows[k]!.ts, want, String(input)));
  });

  it('coerces leniently: numeric strings, hex, nested JSON into strings, booleans as text', async () => {
    const c: GlueColumn[] = [
      { Name: 'n', Type: 'int' },
      { Name: 'h', Type: 'bigint' },
      { Name: 'x', Type: 'double' },
      { Name: 'doc', Type: 'string' },
      { Name: 'flag', Type: 'boolean' },
      { Name: 'num', Type: 'string' },
      { Name: 'cut', Type: 'int' },
    ];
    const rows = await read(jsonToParquet([{ n: '-17', h: '0x1F', x: ' 2.5e3 ', doc: { a: [1, { b: null }] }, flag: 'TRUE', num: 12345678901234567890n, cut: 9.99 }], c, {}));
    assert.deepEqual(rows[0], { n: -17, h: 31n, x: 2500, doc: '{"a":[1,{"b":null}]}', flag: true, num: '12345678901234567890', cut: 9 });
  });

  it('reads record bytes without rounding big numbers', async () => {
    const rows = await read(jsonToParquet([Buffer.from('{"id": 1234567890123456789, "s": 99999999999999999999}')], [{ Name: 'id', Type: 'bigint' }, { Name: 's', Type: 'string' }], {}));
    assert.deepEqual(rows[0], { id: 1234567890123456789n, s: '99999999999999999999' });
  });
});

describe('parquet: Hive JSON SerDe', () => {
  it('refuses numbers in strings and nested JSON in string columns', () => {
    const hive: ParquetOptions = { deserializer: { HiveJsonSerDe: {} } };
    assert.throws(() => jsonToParquet([{ a: '123' }], [{ Name: 'a', Type: 'int' }], hive), (e: unknown) => e instanceof FormatConversionError && /Hive JSON SerDe/.test(e.message));
    assert.throws(() => jsonToParquet([{ a: { inner: 1 } }], [{ Name: 'a', Type: 'string' }], hive), FormatConversionError);
    // and it matches keys ignoring case, like Hive's lower-case column names
    assert.doesNotThrow(() => jsonToParquet([{ A: 123 }], [{ Name: 'a', Type: 'int' }], hive));
  });

  it('reads timestamps by TimestampFormats (Joda patterns, "millis"), else java.sql.Timestamp.valueOf', async () => {
    const col: GlueColumn[] = [{ Name: 'ts', Type: 'timestamp' }];
    const hive = (formats?: string[]): ParquetOptions => ({ deserializer: { HiveJsonSerDe: formats ? { TimestampFormats: formats } : {} } });
    let rows = await read(jsonToParquet([{ ts: '2017-02-07 15:13:01.123' }], col, hive()));
    assert.equal(rows[0]!.ts, micros('2017-02-07T15:13:01.123Z'));
    assert.throws(() => jsonToParquet([{ ts: '07/02/2017 15:13' }], col, hive()), FormatConversionError);
    rows = await read(jsonToParquet([{ ts: '07/02/2017 15:13' }, { ts: 1518033528123 }, { ts: 'Feb 7, 2017 3:13:01 PM +0100' }], col, hive(['dd/MM/yyyy HH:mm', 'millis', 'MMM d, yyyy h:mm:ss a Z'])));
    assert.deepEqual(
      rows.map((r) => r.ts),
      [micros('2017-02-07T15:13:00Z'), micros('2018-02-07T19:58:48.123Z'), micros('2017-02-07T14:13:01Z')],
    );
  });

  it('compiles Joda patterns', () => {
    assert.equal(compileJodaPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ")('2020-01-02T03:04:05.678Z'), micros('2020-01-02T03:04:05.678Z'));
    assert.equal(compileJodaPattern('yyyyMMddHHmmss')('20200102030405'), micros('2020-01-02T03:04:05Z'));
    assert.equal(compileJodaPattern('yyyy-MM-dd')('2020-13-01'), undefined);
    assert.throws(() => compileJodaPattern('yyyy-QQ'), /pattern letter 'Q'/);
  });
});

describe('parquet: records that do not fit', () => {
  const cols: GlueColumn[] = [
    { Name: 'id', Type: 'int' },
    { Name: 'd', Type: 'decimal(4,1)' },
    { Name: 'tags', Type: 'array<string>' },
  ];

  it('convertToParquet writes the good ones and names the bad ones for format-conversion-failed', async () => {
    const r = convertToParquet(['{"id":1}', 'not json', '[1,2]', '{"id":"x"}', '{"id":3000000000}', '{"d":12345}', '{"tags":"a"}', '{"id":2,"d":"123.4"}'], cols, {});
    assert.equal(r.converted, 2);
    assert.deepEqual(
      r.failures.map((f) => [f.index, f.error.errorCode, f.error.column ?? null]),
      [
        [1, 'DataFormatConversion.MalformedData', null],
        [2, 'DataFormatConversion.MalformedData', null],
        [3, 'DataFormatConversion.MalformedData', 'id'],
        [4, 'DataFormatConversion.MalformedData', 'id'],
        [5, 'DataFormatConversion.MalformedData', 'd'],
        [6, 'DataFormatConversion.MalformedData', 'tags'],
      ],
    );
    for (const f of r.failures) assert.equal(f.error.errorOutputType, 'format-conversion-failed');
    assert.match(r.failures[2]!.error.message, /column 'id': cannot read "x" as int/);
    assert.match(r.failures[3]!.error.message, /out of range for int/);
    assert.match(r.failures[4]!.error.message, /more than 4 digits/);
    assert.deepEqual(await read(r.parquet!), [
      { id: 1, d: null, tags: undefined },
      { id: 2, d: 123.4, tags: undefined },
    ]);
    assert.equal(convertToParquet(['nope'], cols).parquet, undefined);
  });

  it('jsonToParquet throws on the first one with its index', () => {
    assert.throws(
      () => jsonToParquet([{ id: 1 }, { id: 2 }, { id: 'three' }], cols, {}),
      (e: unknown) => e instanceof FormatConversionError && e.rowIndex === 2 && e.column === 'id',
    );
  });

  it('nested paths name the field', () => {
    assert.throws(
      () => jsonToParquet([{ u: { list: [{ n: 1 }, { n: 'x' }] } }], [{ Name: 'u', Type: 'struct<list:array<struct<n:int>>>' }], {}),
      (e: unknown) => e instanceof FormatConversionError && e.column === 'u.list[1].n',
    );
  });
});

describe('parquet: Glue types and the catalog', () => {
  it('parses Hive type strings', () => {
    assert.deepEqual(parseGlueType('DECIMAL'), { kind: 'decimal', precision: 10, scale: 0 });
    assert.deepEqual(parseGlueType('decimal(12)'), { kind: 'decimal', precision: 12, scale: 0 });
    assert.deepEqual(parseGlueType(' map< string , array<struct<a:int,`b c`:char(3)>> > '), {
      kind: 'map',
      key: { kind: 'string' },
      value: {
        kind: 'array',
        element: {
          kind: 'struct',
          fields: [
            { name: 'a', type: { kind: 'int' } },
            { name: 'b c', type: { kind: 'string', maxLength: 3 } },
          ],
        },
      },
    });
    for (const bad of ['', 'int32', 'array<int', 'map<array<int>,int>', 'decimal(40,2)', 'decimal(5,6)', 'struct<a int>', 'int int', 'uniontype<int,string>']) {
      assert.throws(() => parseGlueType(bad), FormatConversionError, bad);
    }
  });

  it('loads the Glue stand-in file, case-insensitively, per catalog', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eddy-glue-'));
    try {
      const file = join(dir, 'glue.json');
      writeFileSync(
        file,
        JSON.stringify({
          databases: { Sales: { tables: { Orders: { columns: [{ Name: 'id', Type: 'bigint' }, { Name: 'items', Type: 'array<string>' }] } } } },
          catalogs: { '111122223333': { databases: { other: { tables: { t: { columns: [{ Name: 'x', Type: 'int' }] } } } } } },
        }),
      );
      const cat = loadSchemaCatalog(file);
      assert.deepEqual(cat.table('sales', 'ORDERS'), [
        { Name: 'id', Type: 'bigint' },
        { Name: 'items', Type: 'array<string>' },
      ]);
      assert.equal(cat.table('sales', 'missing'), undefined);
      assert.deepEqual(cat.table('other', 't', '111122223333'), [{ Name: 'x', Type: 'int' }]);
      assert.equal(cat.table('other', 't'), undefined);
      assert.ok(cat.table('sales', 'orders', '000000000000'), 'an unknown catalog id falls back to the default catalog');
      assert.equal(loadSchemaCatalog(undefined).table('sales', 'orders'), undefined);

      writeFileSync(file, JSON.stringify({ databases: { db: { tables: { bad: { columns: [{ Name: 'x', Type: 'integer64' }] } } } } }));
      assert.throws(() => loadSchemaCatalog(file), /db\.bad: column 'x'.*unsupported type 'integer64'/);
      writeFileSync(file, '{not json');
      assert.throws(() => loadSchemaCatalog(file), /glue catalog/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
