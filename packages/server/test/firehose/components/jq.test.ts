/** MetadataExtraction queries through the real jq (jq-wasm), on the records of AWS's dynamic partitioning examples. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonDecimal } from '../../../src/firehose/json-lossless.js';
import { compileJq, JqError, toPartitionKeys } from '../../../src/firehose/jq.js';

// "Dynamic partitioning in Amazon Data Firehose": the sample record and its key queries.
const SAMPLE = {
  type: { device: 'mobile', event: 'user_clicked_submit_button' },
  customer_id: '1234567890',
  event_timestamp: 1565382027,
  region: 'sample_region',
};
const AWS_QUERY =
  '{customer_id: .customer_id, device: .type.device, year: .event_timestamp | strftime("%Y"), month: .event_timestamp | strftime("%m"), day: .event_timestamp | strftime("%d"), hour: .event_timestamp | strftime("%H")}';

describe('jq', () => {
  it("evaluates AWS's partitioning example", async () => {
    const p = await compileJq(AWS_QUERY);
    assert.deepEqual(await p.run(SAMPLE), { customer_id: '1234567890', device: 'mobile', year: '2019', month: '08', day: '09', hour: '20' });
    assert.deepEqual(toPartitionKeys(await p.run(SAMPLE)), { customer_id: '1234567890', device: 'mobile', year: '2019', month: '08', day: '09', hour: '20' });
  });

  it('takes a record as bytes and keeps its numbers exact', async () => {
    const p = await compileJq('{id: .id, price: .price, ok: .ok}');
    const out = await p.run(Buffer.from('{"id": 12345678901234567890, "price": 0.10000000000000000555, "ok": true}'));
    assert.deepEqual(out, { id: 12345678901234567890n, price: new JsonDecimal('0.10000000000000000555'), ok: true });
    assert.deepEqual(toPartitionKeys(out), { id: '12345678901234567890', price: '0.10000000000000000555', ok: 'true' });
  });

  it('runs many records in one go, each with its own outcome', async () => {
    const p = await compileJq('{customer_id: .customer_id, year: .ts | strftime("%Y")}');
    const outcomes = await p.runAll([{ customer_id: 'a', ts: 0 }, { customer_id: 'b', ts: 'soon' }, Buffer.from('{not json'), { customer_id: 'c', ts: 1700000000 }]);
    assert.deepEqual(outcomes[0], { ok: true, value: { customer_id: 'a', year: '1970' } });
    assert.equal(outcomes[1]!.ok, false);
    assert.match(!outcomes[1]!.ok ? outcomes[1]!.error.message : '', /strftime\/1 requires parsed datetime inputs/);
    assert.equal(!outcomes[2]!.ok && outcomes[2]!.error.code, 'InvalidInput');
    assert.deepEqual(outcomes[3], { ok: true, value: { customer_id: 'c', year: '2023' } });
  });

  it('coalesces concurrent run() calls and keeps their order', async () => {
    const p = await compileJq('{n: (.n * 2 | tostring)}');
    const out = await Promise.all(Array.from({ length: 2000 }, (_, n) => p.run({ n })));
    out.forEach((o, n) => assert.deepEqual(o, { n: String(n * 2) }));
  });

  it('survives far more runs than one jq-wasm instance holds', async () => {
    const p = await compileJq('.a');
    for (let i = 0; i < 450; i++) assert.equal(await p.run({ a: i }), i);
  });

  it('refuses expressions that do not compile, with jq\'s message', async () => {
    for (const [expr, msg] of [
      ['{customer_id: .customer_id', /syntax error/],
      ['.a | $undefined_var', /\$undefined_var is not defined/],
      ['.a | nosuchfunction(1)', /nosuchfunction\/1 is not defined/],
      ['', /empty/],
    ] as const) {
      await assert.rejects(compileJq(expr), (e: unknown) => e instanceof JqError && e.code === 'CompileError' && msg.test(e.message), expr);
    }
  });

  it('compiles without evaluating (an endless program does not hang)', async () => {
    const p = await compileJq('def f: f; if .stop then 1 else f end # recursion');
    assert.equal(await p.run({ stop: true }), 1);
  });

  it('wants exactly one result per record', async () => {
    await assert.rejects((await compileJq('.a, .b')).run({ a: 1, b: 2 }), (e: unknown) => e instanceof JqError && e.code === 'ResultCount');
    await assert.rejects((await compileJq('empty')).run({}), (e: unknown) => e instanceof JqError && e.code === 'ResultCount');
    await assert.rejects((await compileJq('error("custom failure")')).run({}), /custom failure/);
  });

  it('programs that read further inputs see only their own record', async () => {
    const p = await compileJq('[., (try input catch "none")]');
    assert.deepEqual(await p.runAll([{ a: 1 }, { a: 2 }]), [
      { ok: true, value: [{ a: 1 }, 'none'] },
      { ok: true, value: [{ a: 2 }, 'none'] },
    ]);
  });

  it('handles a record near the 1,000 KiB limit', async () => {
    const p = await compileJq('{k: .k}');
    assert.deepEqual(await p.run({ k: 'v', pad: 'x'.repeat(1_000_000) }), { k: 'v' });
  });

  it('stops a run that does not end, and only that record fails', async () => {
    const p = await compileJq('if .loop then (0 | until(false; . + 1)) else .v end', { timeoutMs: 1500 });
    const out = await p.runAll([{ v: 1 }, { loop: true }, { v: 3 }]);
    assert.deepEqual(out[0], { ok: true, value: 1 });
    assert.equal(!out[1]!.ok && out[1]!.error.code, 'EngineFailure');
    assert.match(!out[1]!.ok ? out[1]!.error.message : '', /did not finish within 1.5 s/);
    assert.deepEqual(out[2], { ok: true, value: 3 });
    assert.equal(await p.run({ v: 4 }), 4, 'a new worker takes over');
  });

  it('does not touch process.exitCode when jq exits non-zero', async () => {
    const before = process.exitCode;
    await compileJq('{').catch(() => undefined);
    await (await compileJq('error("x")')).run({}).catch(() => undefined);
    assert.equal(process.exitCode, before);
  });

  it('toPartitionKeys wants an object without null keys', () => {
    assert.throws(() => toPartitionKeys('x'), JqError);
    assert.throws(() => toPartitionKeys({ a: null }), /'a' evaluated to null/);
    assert.deepEqual(toPartitionKeys({ a: 1, b: 'x', c: [1] }), { a: '1', b: 'x', c: '[1]' });
  });
});
