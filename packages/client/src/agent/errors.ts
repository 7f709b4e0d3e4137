/** Stable codes for the agent's errors (a closed list, as the producer and consumer keep theirs). */
export const AgentErrorCode = {
  /** The configuration file is unreadable, not JSON, or a value is out of its range. */
  CONFIG: 'EDDY_AGENT_CONFIG',
  /** A configuration key the real Kinesis Agent has but this agent does not implement. */
  UNSUPPORTED: 'EDDY_AGENT_UNSUPPORTED',
  /** The checkpoint file exists but cannot be read as a checkpoint file. */
  CHECKPOINT: 'EDDY_AGENT_CHECKPOINT',
  /** The agent was closed while work was still waiting. */
  CLOSED: 'EDDY_AGENT_CLOSED',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly retryable: boolean;
  constructor(code: AgentErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A configuration error whose message starts with the path of the offending key. */
export function configError(path: string, message: string): AgentError {
  return new AgentError(AgentErrorCode.CONFIG, `${path}: ${message}`);
}

export function unsupported(path: string, message: string): AgentError {
  return new AgentError(AgentErrorCode.UNSUPPORTED, `${path}: ${message}`);
}
