export { type Agent, type AgentOptions, type AgentProgress, progressChannel, startAgent } from './agent.js';
export {
  type AgentConfig,
  defaultAgentConfig,
  defaultFlowConfig,
  type Destination,
  type FlowConfig,
  InitialPosition,
  LogLevel,
  loadAgentConfig,
  parseAgentConfig,
  PartitionKeyOption,
} from './config.js';
export { AgentError, AgentErrorCode } from './errors.js';
export type { FlowMetrics } from './flow.js';
export { createLogParser, LogFormat, type LogParser, type LogParserOptions, type LogRecord } from './log-formats.js';
export { createConverterChain, DataProcessingOption, JsonFormat, type ProcessingOptionConfig } from './processing.js';
export type { FirehosePort } from './sinks.js';
