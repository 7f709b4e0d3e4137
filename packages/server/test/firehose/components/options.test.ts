/** The server options the Firehose components take: flags and EDDY_* variables. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptions, usage } from '../../../src/cli/options.js';

describe('component options', () => {
  it('reads --lambda-endpoint, --lambda-dir and --glue-catalog', () => {
    const { options } = parseOptions(['serve', '--lambda-endpoint', 'http://127.0.0.1:3001', '--lambda-dir', './functions', '--glue-catalog', './glue.json'], {});
    assert.equal(options.lambdaEndpoint, 'http://127.0.0.1:3001');
    assert.equal(options.lambdaDir, './functions');
    assert.equal(options.glueCatalog, './glue.json');
  });

  it('reads them from EDDY_LAMBDA_ENDPOINT, EDDY_LAMBDA_DIR and EDDY_GLUE_CATALOG; flags win', () => {
    const env = { EDDY_LAMBDA_ENDPOINT: 'http://lambda:9001', EDDY_LAMBDA_DIR: '/fn', EDDY_GLUE_CATALOG: '/etc/glue.json' };
    const { options } = parseOptions(['serve', '--lambda-dir', '/other'], env);
    assert.equal(options.lambdaEndpoint, 'http://lambda:9001');
    assert.equal(options.lambdaDir, '/other');
    assert.equal(options.glueCatalog, '/etc/glue.json');
    assert.equal(parseOptions(['serve'], {}).options.lambdaDir, undefined);
  });

  it('lists them in the usage text', () => {
    const u = usage();
    for (const s of ['--lambda-endpoint', 'EDDY_LAMBDA_ENDPOINT', '--lambda-dir', 'EDDY_LAMBDA_DIR', '--glue-catalog', 'EDDY_GLUE_CATALOG']) assert.ok(u.includes(s), s);
  });
});
