import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ShardCheckpointer } from '../../src/consumer/checkpointer.js';
import { applyChanges, compareExtended, type Lease, type LeaseChanges, newLease, Sentinel } from '../../src/consumer/lease.js';
import { startingPosition } from '../../src/consumer/shard-consumer.js';

function setup(checkpoint = 'TRIM_HORIZON', sub = 0) {
  let lease: Lease = { ...newLease({ leaseKey: 's', checkpoint }), checkpointSubSequenceNumber: sub };
  const writes: LeaseChanges[] = [];
  const cp = new ShardCheckpointer('s', { sequenceNumber: checkpoint, subSequenceNumber: sub }, {
    async write(changes) {
      writes.push(changes);
      lease = applyChanges(lease, changes, true);
      return lease;
    },
  });
  return { cp, writes, lease: () => lease };
}

describe('checkpointer (checklist 2.3, 3.4)', () => {
  it('checkpoints at the last record delivered by default, and at a record or position', async () => {
    const { cp, lease } = setup();
    cp.delivered({ sequenceNumber: '200', subSequenceNumber: 4 });
    await cp.checkpoint({ sequenceNumber: '100', subSequenceNumber: 2 });
    assert.deepEqual([lease().checkpoint, lease().checkpointSubSequenceNumber], ['100', 2]);
    await cp.checkpoint('150');
    assert.deepEqual([lease().checkpoint, lease().checkpointSubSequenceNumber], ['150', 0]);
    await cp.checkpoint();
    assert.deepEqual([lease().checkpoint, lease().checkpointSubSequenceNumber], ['200', 4]);
    assert.deepEqual(cp.lastCheckpoint, { sequenceNumber: '200', subSequenceNumber: 4 });
    assert.equal(lease().ownerSwitchesSinceCheckpoint, 0);
  });

  it('stores nothing when nothing was delivered yet', async () => {
    const { cp, writes } = setup('LATEST');
    await cp.checkpoint();
    assert.deepEqual(writes, []);
    await assert.rejects(cp.checkpoint('5'), { code: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT' });
  });

  it('refuses positions before the last checkpoint or after the last record delivered', async () => {
    const { cp, writes } = setup('100', 3);
    cp.delivered({ sequenceNumber: '200', subSequenceNumber: 0 });
    await assert.rejects(cp.checkpoint({ sequenceNumber: '100', subSequenceNumber: 2 }), { code: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT' });
    await assert.rejects(cp.checkpoint({ sequenceNumber: '200', subSequenceNumber: 1 }), { code: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT' });
    await assert.rejects(cp.checkpoint('300'), { code: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT' });
    await assert.rejects(cp.checkpoint('SHARD_END'), { code: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT' });
    await assert.rejects(cp.checkpoint('12a'), { code: 'ERR_EDDY_CONSUMER_INVALID_CHECKPOINT' });
    assert.deepEqual(writes, []);
  });

  it('stores SHARD_END with the children at shard end', async () => {
    const { cp, lease } = setup('100');
    cp.shardEnded(['c1', 'c2']);
    await cp.checkpoint();
    assert.equal(lease().checkpoint, Sentinel.SHARD_END);
    assert.deepEqual(lease().childShardIds, ['c1', 'c2']);
  });

  it('prepares a checkpoint, then commits it', async () => {
    const { cp, lease } = setup();
    cp.delivered({ sequenceNumber: '7', subSequenceNumber: 0 });
    const prepared = await cp.prepareCheckpoint();
    assert.deepEqual([lease().pendingCheckpoint, lease().checkpoint], ['7', 'TRIM_HORIZON']);
    await prepared.checkpoint();
    assert.deepEqual([lease().pendingCheckpoint, lease().checkpoint], [undefined, '7']);
  });

  it('resumes AT the checkpointed sequence number, skipping its sub-records up to the checkpointed one', () => {
    const l = { ...newLease({ leaseKey: 's', checkpoint: '555' }), checkpointSubSequenceNumber: 2 };
    assert.deepEqual(startingPosition(l, 'LATEST'), { position: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '555' }, after: { sequenceNumber: '555', subSequenceNumber: 2 } });
    assert.deepEqual(startingPosition(newLease({ leaseKey: 's', checkpoint: 'LATEST' }), 'TRIM_HORIZON').position, { type: 'LATEST' });
    const ts = new Date(1_700_000_000_000);
    assert.deepEqual(startingPosition(newLease({ leaseKey: 's', checkpoint: 'AT_TIMESTAMP' }), { timestamp: ts }).position, { type: 'AT_TIMESTAMP', timestamp: ts });
  });

  it('orders positions: starting sentinels < sequence numbers (as 128-bit integers, then sub-sequence) < SHARD_END (property)', () => {
    const seq = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((b) => b.toString());
    const pos = fc.oneof(
      fc.record({ sequenceNumber: seq, subSequenceNumber: fc.nat(1000) }),
      fc.constantFrom(...['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP', 'SHARD_END'].map((s) => ({ sequenceNumber: s, subSequenceNumber: 0 }))),
    );
    fc.assert(
      fc.property(pos, pos, pos, (a, b, c) => {
        assert.equal(Math.sign(compareExtended(a, b)) + Math.sign(compareExtended(b, a)), 0);
        if (compareExtended(a, b) <= 0 && compareExtended(b, c) <= 0) assert.ok(compareExtended(a, c) <= 0);
        if (/^\d+$/.test(a.sequenceNumber)) {
          assert.ok(compareExtended({ sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 }, a) < 0);
          assert.ok(compareExtended(a, { sequenceNumber: 'SHARD_END', subSequenceNumber: 0 }) < 0);
        }
      }),
    );
    assert.ok(compareExtended({ sequenceNumber: '9', subSequenceNumber: 5 }, { sequenceNumber: '10', subSequenceNumber: 0 }) < 0, 'numeric, not lexical');
  });
});
