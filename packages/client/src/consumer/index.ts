export { createConsumer } from './consumer.js';
export { ConsumerError, ConsumerErrorCode } from './errors.js';
export { defaultConsumerOptions } from './options.js';
export { createMemoryLeaseStore } from './memory-lease-store.js';
export { createDynamoDbLeaseStore, type DynamoDbLeaseStoreOptions } from './dynamodb-lease-store.js';
export { createPostgresLeaseStore, type PostgresLeaseStoreOptions } from './postgres-lease-store.js';
export { Sentinel } from './lease.js';
export type { ExtendedSequenceNumber, Lease, LeaseChanges, LeaseCondition, LeaseStore } from './lease.js';
export type {
  Checkpointer,
  CheckpointTarget,
  Consumer,
  ConsumerEvent,
  ConsumerOptions,
  ConsumerRecord,
  InitializeInput,
  InitialPosition,
  ProcessRecordsInput,
  RecordBatch,
  RecordProcessor,
  ShardEndedInput,
} from './types.js';
