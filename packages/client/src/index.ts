export {
  aggregate,
  aggregatedSize,
  Aggregator,
  type AggregatorOptions,
  type DeaggregatedRecord,
  deaggregate,
  effectiveHashKey,
  isAggregated,
  KPL_MAGIC,
  type UserRecord,
} from './aggregation/index.js';
export {
  createProducer,
  defaultProducerOptions,
  type Producer,
  ProducerError,
  ProducerErrorCode,
  type ProducerMetrics,
  type ProducerOptions,
  type ProducerRecord,
  type PutResult,
} from './producer/index.js';
