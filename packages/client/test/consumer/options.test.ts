import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConsumer, createMemoryLeaseStore } from '../../src/consumer/index.js';

describe('consumer options', () => {
  const store = createMemoryLeaseStore();
  const bad = (o: Record<string, unknown>, field: string) =>
    assert.throws(() => createConsumer({ streamName: 's', applicationName: 'app', leaseStore: store, region: 'us-east-1', ...o } as never), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_EDDY_CONSUMER_INVALID_OPTION');
      assert.ok(e.message.startsWith(`${field}:`), e.message);
      return true;
    });
  it('are validated once, with messages naming the field', () => {
    bad({ streamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/s' }, 'streamName');
    bad({ applicationName: 'no spaces' }, 'applicationName');
    bad({ leaseStore: {} }, 'leaseStore');
    bad({ processor: { processRecords() {} } }, 'processor');
    bad({ initialPosition: 'AT_TIMESTAMP' }, 'initialPosition');
    bad({ retrieval: 'push' }, 'retrieval');
    bad({ maxRecords: 10_001 }, 'maxRecords');
    bad({ failoverTimeMs: 1_000, renewIntervalMs: 900 }, 'failoverTimeMs');
    bad({ leasesRecoveryAuditorIntervalMs: 10 }, 'leasesRecoveryAuditorIntervalMs');
    bad({ leasesRecoveryAuditorInconsistencyConfidenceThreshold: 0 }, 'leasesRecoveryAuditorInconsistencyConfidenceThreshold');
  });
});
