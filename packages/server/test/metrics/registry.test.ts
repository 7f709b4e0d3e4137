import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promName, Registry } from '../../src/metrics/index.js';

describe('metrics registry', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const r = new Registry();
    const c = r.counter('eddy_things_total', 'Things\nseen', ['kind']);
    c.inc({ kind: 'a"b' });
    c.inc({ kind: 'a"b' }, 2);
    const g = r.gauge('eddy_level', 'A level');
    g.set({}, 1.5);
    const h = r.histogram('eddy_wait_seconds', 'Waits', ['op'], [0.1, 1]);
    h.observe({ op: 'x' }, 0.05);
    h.observe({ op: 'x' }, 0.5);
    h.observe({ op: 'x' }, 5);
    assert.equal(
      r.render(),
      [
        '# HELP eddy_level A level',
        '# TYPE eddy_level gauge',
        'eddy_level 1.5',
        '# HELP eddy_things_total Things\\nseen',
        '# TYPE eddy_things_total counter',
        'eddy_things_total{kind="a\\"b"} 3',
        '# HELP eddy_wait_seconds Waits',
        '# TYPE eddy_wait_seconds histogram',
        'eddy_wait_seconds_bucket{op="x",le="0.1"} 1',
        'eddy_wait_seconds_bucket{op="x",le="1"} 2',
        'eddy_wait_seconds_bucket{op="x",le="+Inf"} 3',
        'eddy_wait_seconds_sum{op="x"} 5.55',
        'eddy_wait_seconds_count{op="x"} 3',
        '',
      ].join('\n'),
    );
  });

  it('keeps CloudWatch names recognisable and refuses invalid ones', () => {
    assert.equal(promName('AWS/Firehose', 'DeliveryToS3.DataFreshness'), 'aws_firehose_DeliveryToS3_DataFreshness');
    const r = new Registry();
    assert.throws(() => r.counter('bad-name', 'x'), /invalid metric name/);
    assert.throws(() => r.counter('ok', 'x', ['le-x']), /invalid label name/);
    r.counter('twice', 'x', ['a']);
    assert.equal(r.counter('twice', 'x', ['a']), r.counter('twice', 'x', ['a']));
    assert.throws(() => r.gauge('twice', 'x', ['a']), /already registered/);
    assert.throws(() => r.counter('down', 'x').inc({}, -1), /only go up/);
  });

  it('computes gauges at scrape time and forgets label sets', () => {
    const r = new Registry();
    const g = r.gauge('age_seconds', 'Age', ['DeliveryStreamName']);
    let n = 0;
    g.onCollect(() => g.set({ DeliveryStreamName: 's' }, ++n));
    assert.match(r.render(), /age_seconds\{DeliveryStreamName="s"\} 1\n/);
    assert.match(r.render(), /age_seconds\{DeliveryStreamName="s"\} 2\n/);
    r.counter('c', 'C', ['DeliveryStreamName']).inc({ DeliveryStreamName: 'gone' });
    r.removeWhere('DeliveryStreamName', 'gone');
    assert.doesNotMatch(r.render(), /gone/);
  });
});
