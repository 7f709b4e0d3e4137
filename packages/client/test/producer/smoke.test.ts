import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProducer } from '../../src/producer/index.js';
import { createStream, deleteStream, kinesisClient, readAll, startEddy, uniqueName } from './helpers.js';

test('smoke', async () => {
  const eddy = await startEddy();
  const client = kinesisClient(eddy.endpoint);
  const name = uniqueName('smoke');
  await createStream(client, name, 2);
  const p = createProducer({ streamName: name, client });
  const rs = await Promise.all(Array.from({ length: 1000 }, (_, i) => p.put({ partitionKey: `k${i}`, data: `v${i}` })));
  console.log(rs[0], rs[999], p.metrics());
  await p.close();
  const all = await readAll(client, name);
  console.log(all.records.length, all.kinesisRecords, all.misplaced);
  assert.equal(all.records.length, 1000);
  await deleteStream(client, name);
  client.destroy();
  await eddy.close();
});
