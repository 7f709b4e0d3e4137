import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createConverter, createConverterChain, javaSplit, type ProcessingOptionConfig } from '../../src/agent/processing.js';

const run = (o: ProcessingOptionConfig | ProcessingOptionConfig[], input: string): string | null => {
  const out = createConverterChain(Array.isArray(o) ? o : [o], () => Date.UTC(2024, 2, 1, 12, 0, 0))(Buffer.from(input, 'utf8'));
  return out === null ? null : out.toString('utf8');
};

describe('dataProcessingOptions', () => {
  test('SINGLELINE joins the lines of a multi-line record, trimmed', () => {
    const trace = 'java.lang.IllegalStateException: boom\n\tat com.example.A.run(A.java:10)\n\tat java.base/java.lang.Thread.run(Thread.java:833)\n';
    assert.equal(run({ optionName: 'SINGLELINE', parseOptions: [] }, trace), 'java.lang.IllegalStateException: boomat com.example.A.run(A.java:10)at java.base/java.lang.Thread.run(Thread.java:833)\n');
    assert.equal(run({ optionName: 'SINGLELINE', parseOptions: ['NO_TRIM'] }, ' a \n b \n'), ' a  b \n');
    assert.equal(run({ optionName: 'SINGLELINE', parseOptions: ['ESCAPE_NEW_LINE'] }, 'a\n  b\n'), 'a\\nb\n');
  });

  test('CSVTOJSON', () => {
    const csv = (delimiter: string, fields = ['f1', 'f2', 'f3']): ProcessingOptionConfig => ({ optionName: 'CSVTOJSON', customFieldNames: fields, delimiter, jsonFormat: 'COMPACT' });
    const table: [ProcessingOptionConfig, string, string][] = [
      [csv(','), 'v1,v2,v3\n', '{"f1":"v1","f2":"v2","f3":"v3"}\n'],
      // Missing columns are null; extra ones are dropped; columns are not trimmed (as in the agent).
      [csv(','), 'v1, v2\n', '{"f1":"v1","f2":" v2","f3":null}\n'],
      [csv(','), 'a,b,c,d\n', '{"f1":"a","f2":"b","f3":"c"}\n'],
      // Java's split drops trailing empty columns.
      [csv(','), 'a,,\n', '{"f1":"a","f2":null,"f3":null}\n'],
      [csv(','), ',b,c\n', '{"f1":"","f2":"b","f3":"c"}\n'],
      // The delimiter is a regular expression: the agent's example config gives "\\t" for a tab.
      [csv('\\t'), 'x\ty\tz\n', '{"f1":"x","f2":"y","f3":"z"}\n'],
      [csv('\\|'), '2024-03-01|GET|200\r\n', '{"f1":"2024-03-01","f2":"GET","f3":"200"}\n'],
      [csv('\\s*;\\s*'), 'a ; b;c\n', '{"f1":"a","f2":"b","f3":"c"}\n'],
      [csv(','), 'say "hi", ünïcödé\n', '{"f1":"say \\"hi\\"","f2":" ünïcödé","f3":null}\n'],
    ];
    for (const [o, input, want] of table) assert.equal(run(o, input), want, input);
  });

  test('LOGTOJSON drops lines that do not match, and keeps the record newline-terminated', () => {
    const o: ProcessingOptionConfig = { optionName: 'LOGTOJSON', logFormat: 'SYSLOG', jsonFormat: 'COMPACT' };
    assert.equal(
      run(o, 'Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages\n'),
      '{"timestamp":"Mar 12 12:00:08","hostname":"server2","program":"rcd","processid":"308","message":"Loaded 12 packages"}\n',
    );
    assert.equal(run(o, 'garbage\n'), null);
    // CRLF files parse too.
    assert.equal(run(o, 'Mar 12 12:00:08 h p: m\r\n'), '{"timestamp":"Mar 12 12:00:08","hostname":"h","program":"p","processid":null,"message":"m"}\n');
  });

  test('PRETTYPRINT lays JSON out as Jackson does', () => {
    const o: ProcessingOptionConfig = { optionName: 'CSVTOJSON', customFieldNames: ['a', 'b'], delimiter: ',', jsonFormat: 'PRETTYPRINT' };
    assert.equal(run(o, '1,\n'), '{\n  "a" : "1",\n  "b" : null\n}\n');
  });

  test('ADDBRACKETS, ADDEOL, ADDMETADATA', () => {
    assert.equal(run({ optionName: 'ADDBRACKETS' }, '"a":1\n'), '{"a":1\n}');
    assert.equal(run([{ optionName: 'ADDBRACKETS' }, { optionName: 'ADDEOL' }], '"a":1'), '{"a":1}\n');
    assert.equal(run({ optionName: 'ADDEOL' }, 'x\n'), 'x\n');
    assert.equal(
      run({ optionName: 'ADDMETADATA', metadata: { env: 'prod', tags: ['a', 'b'] }, timestamp: true, jsonFormat: 'COMPACT' }, 'hello\n'),
      '{"ts":"2024-03-01T12:00:00.000Z","metadata":{"env":"prod","tags":["a","b"]},"data":"hello"}\n',
    );
  });

  test('a chain applies options in order and stops at a dropped record', () => {
    const chain: ProcessingOptionConfig[] = [
      { optionName: 'SINGLELINE', parseOptions: [] },
      { optionName: 'CSVTOJSON', customFieldNames: ['k', 'v'], delimiter: '=', jsonFormat: 'COMPACT' },
    ];
    assert.equal(run(chain, 'key\n  =value\n'), '{"k":"key","v":"value"}\n');
    assert.equal(run([{ optionName: 'LOGTOJSON', logFormat: 'SYSLOG', jsonFormat: 'COMPACT' }, { optionName: 'ADDEOL' }], 'nope\n'), null);
  });

  test('a bad delimiter fails when the converter is built', () => {
    assert.throws(() => createConverter({ optionName: 'CSVTOJSON', customFieldNames: ['a'], delimiter: '(', jsonFormat: 'COMPACT' }), /delimiter is not a valid regular expression/);
  });

  test("javaSplit is Java's String.split", () => {
    const table: [string, RegExp, string[]][] = [
      ['a,b,c', /,/g, ['a', 'b', 'c']],
      ['a,,b,,', /,/g, ['a', '', 'b']],
      [',a', /,/g, ['', 'a']],
      [',', /,/g, []],
      ['', /,/g, ['']],
      ['abc', /,/g, ['abc']],
      ['abc', /(?:)/g, ['a', 'b', 'c']],
      ['a1b22c', /\d/g, ['a', 'b', '', 'c']],
    ];
    for (const [s, re, want] of table) assert.deepEqual(javaSplit(s, re), want, `${JSON.stringify(s)} split ${re}`);
  });

  test('property: CSVTOJSON gives every field back when no field holds the delimiter', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[^,\n\r]{1,10}$/), { minLength: 1, maxLength: 8 }), (cols) => {
        const names = cols.map((_, i) => `c${i}`);
        const out = run({ optionName: 'CSVTOJSON', customFieldNames: names, delimiter: ',', jsonFormat: 'COMPACT' }, `${cols.join(',')}\n`);
        assert.deepEqual(JSON.parse(out as string), Object.fromEntries(names.map((n, i) => [n, cols[i]])));
      }),
    );
  });
});
