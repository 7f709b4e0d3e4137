/**
 * The Redshift destination's COPY semantics against a real PostgreSQL started for this file:
 * every format and option, read back from the tables.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { DeliveryError } from '../../../src/firehose/destinations/errors.js';
import { deliverRedshift, jdbcToPgConfig, parseCopyOptions, tableIdentifier } from '../../../src/firehose/destinations/redshift.js';
import type { DeliveryMeta } from '../../../src/firehose/destinations/retry.js';
import { fakeClock } from './helpers/clock.js';
import { closedPort } from './helpers/receiver.js';
import { type Postgres, startPostgres } from './helpers/postgres.js';

const USER = 'firehose_user';
const PASSWORD = 'firehose-Secret1';

function meta(extra: Partial<DeliveryMeta> = {}): DeliveryMeta {
  return { deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/rs', deliveryStreamName: 'rs', requestId: 'r', timestampMs: 0, clock: fakeClock(), ...extra };
}

describe('redshift COPY onto PostgreSQL', () => {
  let db: Postgres;
  let client: pg.Client;
  let jdbc: string;

  before(async () => {
    db = await startPostgres();
    db.psql(`CREATE ROLE ${USER} LOGIN PASSWORD '${PASSWORD}'`);
    db.psql(`CREATE DATABASE dev OWNER ${USER}`);
    // The model's pattern wants "<name>.redshift.<domain>:<port>/<db>"; .localhost names are the loopback.
    jdbc = `jdbc:redshift://eddy.redshift.localhost:${db.port}/dev`;
    client = new pg.Client({ host: db.host, port: db.port, user: USER, password: PASSWORD, database: 'dev' });
    await client.connect();
    await client.query(`
      CREATE TABLE events (
        id bigint NOT NULL, name varchar(10), price numeric(20,2), ok boolean, at timestamp, day date, doc varchar(200), note text DEFAULT 'none');
      CREATE SCHEMA analytics;
      CREATE TABLE analytics.clicks (page text, n int);
      CREATE TABLE strict_t (a int NOT NULL, b int NOT NULL);
    `);
  });
  after(async () => {
    await client?.end().catch(() => undefined);
    await db?.stop();
  });

  const config = (copy: { CopyOptions?: string; DataTableColumns?: string; DataTableName?: string }, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    RoleARN: 'r',
    ClusterJDBCURL: jdbc,
    CopyCommand: { DataTableName: 'events', ...copy },
    Username: USER,
    Password: PASSWORD,
    S3Configuration: { RoleARN: 'r', BucketARN: 'arn:aws:s3:::b' },
    ...extra,
  });

  async function rows(sql: string): Promise<Record<string, unknown>[]> {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  }

  async function reset(): Promise<void> {
    await client.query('TRUNCATE events; TRUNCATE analytics.clicks; TRUNCATE strict_t');
  }

  it("JSON 'auto': keys to columns, exact numbers, nested values as JSON text, missing keys NULL (not the DEFAULT)", async () => {
    await reset();
    const records = [
      Buffer.from('{"id": 9223372036854775807, "name": "ann", "price": 123456789012345678.99, "ok": true, "at": "2026-11-22 03:04:05.123", "day": "2026-11-22", "doc": {"k": [1, 2]}}\n'),
      Buffer.from('{"id": 2, "Name": "case-sensitive, not loaded", "ok": false}\n{"id": 3}'),
    ];
    await deliverRedshift(config({ CopyOptions: "JSON 'auto'" }), records, meta());
    assert.deepEqual(await rows("SELECT id::text, name, price::text, ok, to_char(at, 'YYYY-MM-DD HH24:MI:SS.MS') AS at, day::text, doc, note FROM events ORDER BY id"), [
      { id: '2', name: null, price: null, ok: false, at: null, day: null, doc: null, note: null },
      { id: '3', name: null, price: null, ok: null, at: null, day: null, doc: null, note: null },
      { id: '9223372036854775807', name: 'ann', price: '123456789012345678.99', ok: true, at: '2026-11-22 03:04:05.123', day: '2026-11-22', doc: '{"k":[1,2]}', note: null },
    ]);
  });

  it("JSON 'auto ignorecase' matches keys whatever their case", async () => {
    await reset();
    await deliverRedshift(config({ CopyOptions: "FORMAT AS JSON 'auto ignorecase'", DataTableColumns: 'id,name' }), [Buffer.from('{"ID": 1, "NAME": "bob", "Note": "ignored: not in the column list"}')], meta());
    assert.deepEqual(await rows('SELECT id::int, name, note FROM events'), [{ id: 1, name: 'bob', note: 'none' }]);
  });

  it('CSV: quotes, embedded delimiters and newlines, a header, NULL AS, a column list in another order', async () => {
    await reset();
    const csv = 'name,id,doc\n"Smith, J",1,"line one\nline two"\n"say ""hi""",2,NULL\n,3,""\n';
    await deliverRedshift(config({ CopyOptions: "CSV IGNOREHEADER 1 NULL AS 'NULL'", DataTableColumns: 'name, id, doc' }), [Buffer.from(csv)], meta());
    assert.deepEqual(await rows('SELECT id::int, name, doc FROM events ORDER BY id'), [
      { id: 1, name: 'Smith, J', doc: 'line one\nline two' },
      { id: 2, name: 'say "hi"', doc: null },
      { id: 3, name: '', doc: '' },
    ]);
  });

  it('default pipe-delimited text with ESCAPE, empty non-character fields as NULL and \\N as NULL', async () => {
    await reset();
    const text = '1|a\\|b|10.50|t|2026-01-02 03:04:05|2026-01-02|line\\\nnext\n2|\\N||f|||\n';
    await deliverRedshift(config({ CopyOptions: 'ESCAPE', DataTableColumns: 'id,name,price,ok,at,day,doc' }), [Buffer.from(text)], meta());
    assert.deepEqual(await rows('SELECT id::int, name, price::text, ok, at::text, day::text, doc FROM events ORDER BY id'), [
      { id: 1, name: 'a|b', price: '10.50', ok: true, at: '2026-01-02 03:04:05', day: '2026-01-02', doc: 'line\nnext' },
      { id: 2, name: null, price: null, ok: false, at: null, day: null, doc: '' },
    ]);
  });

  it("DELIMITER '\\t', REMOVEQUOTES, FILLRECORD, TRUNCATECOLUMNS, TRIMBLANKS, BLANKSASNULL, EMPTYASNULL", async () => {
    await reset();
    const text = ['1\t"quoted\tname"', '2\tthis-name-is-far-too-long', '3\t   ', '4\t', '5\tpadded   \tx  '].join('\n');
    await deliverRedshift(
      config({ CopyOptions: "DELIMITER '\\t' REMOVEQUOTES FILLRECORD TRUNCATECOLUMNS TRIMBLANKS BLANKSASNULL EMPTYASNULL", DataTableColumns: 'id,name,doc' }),
      [Buffer.from(text)],
      meta(),
    );
    assert.deepEqual(await rows('SELECT id::int, name, doc FROM events ORDER BY id'), [
      { id: 1, name: 'quoted\tnam', doc: null },
      { id: 2, name: 'this-name-', doc: null },
      { id: 3, name: null, doc: null },
      { id: 4, name: null, doc: null },
      { id: 5, name: 'padded', doc: 'x' },
    ]);
  });

  it('GZIP objects, schema-qualified tables, and an object read through its key', async () => {
    await reset();
    const object = gzipSync(Buffer.from('home|3\nabout|4\n'));
    await deliverRedshift(config({ DataTableName: 'analytics.clicks', CopyOptions: 'GZIP' }), object, meta());
    await deliverRedshift(config({ DataTableName: 'Analytics.Clicks', CopyOptions: "gzip delimiter ','" }), { key: 'b/2026/11/22/x.gz', read: async () => gzipSync(Buffer.from('faq,5\n')) }, meta());
    assert.deepEqual(await rows('SELECT page, n FROM analytics.clicks ORDER BY n'), [
      { page: 'home', n: 3 },
      { page: 'about', n: 4 },
      { page: 'faq', n: 5 },
    ]);
    await assert.rejects(deliverRedshift(config({ DataTableName: 'analytics.clicks', CopyOptions: 'GZIP' }), Buffer.from('plain|1\n'), meta()), /not gzip/);
  });

  it("TIMEFORMAT 'epochsecs' / 'epochmillisecs' / a pattern, DATEFORMAT pattern, all in UTC", async () => {
    await reset();
    await deliverRedshift(config({ CopyOptions: "JSON 'auto' TIMEFORMAT 'epochsecs'", DataTableColumns: 'id,at' }), [Buffer.from('{"id":1,"at":1800000000}')], meta());
    await deliverRedshift(config({ CopyOptions: "JSON 'auto' TIMEFORMAT 'epochmillisecs'", DataTableColumns: 'id,at' }), [Buffer.from('{"id":2,"at":1800000000123}')], meta());
    await deliverRedshift(
      config({ CopyOptions: "TIMEFORMAT 'DD.MM.YYYY HH24:MI:SS' DATEFORMAT 'MM/DD/YYYY'", DataTableColumns: 'id,at,day' }),
      [Buffer.from('3|22.11.2026 03:04:05|11/22/2026\n')],
      meta(),
    );
    assert.deepEqual(await rows("SELECT id::int, to_char(at, 'YYYY-MM-DD HH24:MI:SS.MS') AS at, day::text FROM events ORDER BY id"), [
      { id: 1, at: '2027-01-15 08:00:00.000', day: null },
      { id: 2, at: '2027-01-15 08:00:00.123', day: null },
      { id: 3, at: '2026-11-22 03:04:05.000', day: '2026-11-22' },
    ]);
  });

  it('loads a batch entirely or not at all', async () => {
    await reset();
    await assert.rejects(
      deliverRedshift(config({ CopyOptions: "JSON 'auto'" }), [Buffer.from('{"id":1}{"id":2}{"id":"three"}{"id":4}')], meta()),
      (e: unknown) => e instanceof DeliveryError && e.errorCode === 'Redshift.DataLoadFailed' && !e.retryable,
    );
    assert.deepEqual(await rows('SELECT count(*)::int AS n FROM events'), [{ n: 0 }]);
  });

  it('MAXERROR skips up to that many bad rows', async () => {
    await reset();
    await deliverRedshift(config({ CopyOptions: 'MAXERROR 2', DataTableColumns: 'id,name' }), [Buffer.from('1|a\nx|b\n3|c|extra\n4|d\n')], meta());
    assert.deepEqual(await rows('SELECT id::int, name FROM events ORDER BY id'), [
      { id: 1, name: 'a' },
      { id: 4, name: 'd' },
    ]);
    await assert.rejects(deliverRedshift(config({ CopyOptions: 'MAXERROR 1', DataTableColumns: 'id,name' }), [Buffer.from('x|a\ny|b\n5|e\n')], meta()), /2 error\(s\), MAXERROR 1/);
    assert.deepEqual(await rows('SELECT count(*)::int AS n FROM events WHERE id = 5'), [{ n: 0 }]);
  });

  it('reports what is wrong with Firehose\'s error codes', async () => {
    const fails = async (cfg: Record<string, unknown>, code: string, data = '1|a\n'): Promise<void> => {
      await assert.rejects(deliverRedshift(cfg, [Buffer.from(data)], meta({ retryDurationMs: 0 })), (e: unknown) => e instanceof DeliveryError && e.errorCode === code, code);
    };
    await fails(config({ DataTableName: 'no_such_table' }), 'Redshift.TableNotFound');
    await fails(config({ DataTableColumns: 'id,nope' }), 'Redshift.ColumnNotFound');
    await fails(config({}, { Password: 'wrong-password' }), 'Redshift.AuthenticationFailed');
    await fails(config({}, { ClusterJDBCURL: `jdbc:redshift://eddy.redshift.localhost:${db.port}/nodb` }), 'Redshift.DatabaseNotFound');
    await fails(config({ DataTableName: 'strict_t', DataTableColumns: 'a' }), 'Redshift.MissingColumn', '1\n');
    await fails(config({ CopyOptions: 'FORMAT AS PARQUET' }), 'Redshift.IncorrectCopyOptions');
    await fails(config({ CopyOptions: 'CSV REMOVEQUOTES' }), 'Redshift.IncorrectCopyOptions');
    await fails(config({ CopyOptions: 'NOSUCHOPTION' }), 'Redshift.IncorrectCopyOptions');
    await fails(config({ DataTableColumns: 'id,name' }), 'Redshift.DataLoadFailed', '1|a|surplus\n');
    await fails(config({ DataTableColumns: 'id,name' }), 'Redshift.DataLoadFailed', '1\n');
    db.psql(`REVOKE ALL ON analytics.clicks FROM ${USER}; ALTER TABLE analytics.clicks OWNER TO postgres; REVOKE ALL ON SCHEMA analytics FROM PUBLIC; GRANT USAGE ON SCHEMA analytics TO ${USER}`, 'dev');
    await fails(config({ DataTableName: 'analytics.clicks' }), 'Redshift.InsufficientPrivilege', 'x|1\n');
  });

  it('retries a cluster it cannot reach for the retry duration, then fails as retryable', async () => {
    const port = await closedPort();
    const clock = fakeClock();
    await assert.rejects(
      deliverRedshift(config({}, { ClusterJDBCURL: `jdbc:postgresql://eddy.redshift.localhost:${port}/dev`, RetryOptions: { DurationInSeconds: 5 } }), [Buffer.from('1|a\n')], meta({ clock })),
      (e: unknown) => e instanceof DeliveryError && e.errorCode === 'Redshift.ConnectionFailed' && e.retryable && e.attemptsMade === 3,
    );
    assert.equal(clock.sleeps.length, 2);
  });

  it('does not connect for an empty batch', async () => {
    const port = await closedPort();
    await deliverRedshift(config({}, { ClusterJDBCURL: `jdbc:postgresql://eddy.redshift.localhost:${port}/dev` }), [Buffer.from('\n')], meta({ retryDurationMs: 0 }));
  });

  it('reads JDBC URLs', () => {
    assert.deepEqual(jdbcToPgConfig('jdbc:redshift://examplecluster.abc123.us-west-2.redshift.amazonaws.com:5439/dev', 'u', 'p'), {
      host: 'examplecluster.abc123.us-west-2.redshift.amazonaws.com',
      port: 5439,
      database: 'dev',
      user: 'u',
      password: 'p',
      connectionTimeoutMillis: 30_000,
    });
    const c = jdbcToPgConfig('jdbc:postgresql://pg.redshift.localhost/my_db?ssl=true&tcpKeepAlive=true', undefined, undefined);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 5432);
    assert.deepEqual(c.ssl, { rejectUnauthorized: false });
    assert.deepEqual(jdbcToPgConfig('jdbc:redshift://h.redshift.x:5439/dev?sslmode=verify-full', 'u', 'p').ssl, { rejectUnauthorized: true });
    assert.throws(() => jdbcToPgConfig('postgres://h/db', 'u', 'p'), DeliveryError);
  });

  it('reads COPY options', () => {
    const o = parseCopyOptions("FORMAT AS CSV QUOTE AS '''' DELIMITER AS ';' IGNOREHEADER AS 2 NULL AS 'nil' GZIP EMPTYASNULL TIMEFORMAT AS 'auto' MAXERROR 10 COMPUPDATE OFF STATUPDATE ON REGION 'us-west-2'");
    assert.equal(o.format, 'csv');
    assert.equal(o.quote, "'");
    assert.equal(o.delimiter, ';');
    assert.equal(o.ignoreHeader, 2);
    assert.equal(o.nullAs, 'nil');
    assert.equal(o.gzip, true);
    assert.equal(o.emptyAsNull, true);
    assert.equal(o.timeFormat, 'auto');
    assert.equal(o.maxError, 10);
    const d = parseCopyOptions(undefined);
    assert.deepEqual([d.format, d.delimiter, d.nullAs], ['text', '|', '\\N']);
    assert.equal(parseCopyOptions("delimiter '\\011'").delimiter, '\t');
    assert.equal(parseCopyOptions('CSV').delimiter, ',');
    for (const bad of ["JSON 's3://bucket/jsonpaths.json'", 'AVRO', 'BZIP2', "DELIMITER '||'", "JSON 'auto' DELIMITER ','", 'IGNOREHEADER x', "NULL AS 'unterminated"]) {
      assert.throws(() => parseCopyOptions(bad), DeliveryError, bad);
    }
  });

  it('quotes table names as Redshift folds them', () => {
    assert.equal(tableIdentifier('Events'), '"events"');
    assert.equal(tableIdentifier('Analytics.Events'), '"analytics"."events"');
    assert.equal(tableIdentifier('"MixedCase"."T"'), '"MixedCase"."T"');
    assert.throws(() => tableIdentifier('events; DROP TABLE x'), DeliveryError);
  });
});
