import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { startTestServer, type TestServer, uniqueName } from '../helpers/server.js';

const HOUR = 3_600_000;

describe('retention and expiry (injected clock)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ manualClock: true });
  });
  after(() => t.close());

  it('never returns records older than the retention period, and TRIM_HORIZON follows the trim', async () => {
    const StreamName = uniqueName();
    const ShardId = 'shardId-000000000000';
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('old') }));
    t.clock!.advance(23 * HOUR);
    await t.kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'p', Data: Buffer.from('new') }));
    t.clock!.advance(2 * HOUR);
    const { ShardIterator } = await t.kinesis.send(new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    const r = await t.kinesis.send(new GetRecordsCommand({ ShardIterator }));
    assert.deepEqual(r.Records?.map((x) => Buffer.from(x.Data!).toString()), ['new']);
    const at = await t.kinesis.send(new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(t.clock!.now() - 48 * HOUR) }));
    const r2 = await t.kinesis.send(new GetRecordsCommand({ ShardIterator: at.ShardIterator }));
    assert.deepEqual(r2.Records?.map((x) => Buffer.from(x.Data!).toString()), ['new']);
    // Trimming on disk too, then still the same answer.
    await t.eddy.streams.maintain();
    const r3 = await t.kinesis.send(new GetRecordsCommand({ ShardIterator }));
    assert.deepEqual(r3.Records?.map((x) => Buffer.from(x.Data!).toString()), ['new']);
  });

  it('expires iterators after 5 minutes with AWS message', async () => {
    const StreamName = uniqueName();
    await t.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const { ShardIterator } = await t.kinesis.send(new GetShardIteratorCommand({ StreamName, ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' }));
    t.clock!.advance(299_000);
    await t.kinesis.send(new GetRecordsCommand({ ShardIterator }));
    t.clock!.advance(2_000);
    await assert.rejects(t.kinesis.send(new GetRecordsCommand({ ShardIterator })), (e: Error) => {
      assert.equal(e.name, 'ExpiredIteratorException');
      assert.match(e.message, /^Iterator expired\. The iterator was created at time \w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4} while right now it is .* which is further in the future than the tolerated delay of 300000 milliseconds\.$/);
      return true;
    });
    await assert.rejects(t.kinesis.send(new GetRecordsCommand({ ShardIterator: 'AAAAAAAAAAGarbage=' })), { name: 'InvalidArgumentException', message: 'Invalid ShardIterator.' });
  });
});
