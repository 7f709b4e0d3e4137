export { createProducer } from './producer.js';
export { ProducerError, ProducerErrorCode } from './errors.js';
export { defaultProducerOptions } from './options.js';
export type { Producer, ProducerMetrics, ProducerOptions, ProducerRecord, PutResult } from './types.js';
