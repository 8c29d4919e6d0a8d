// Original file: proto/jobrunner/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface AgentState {
  'slots'?: (number);
  'running'?: (number);
  'draining'?: (boolean);
  /**
   * "closed" | "open"
   */
  'breakerState'?: (string);
  /**
   * events waiting on disk
   */
  'outboxDepth'?: (number | string | Long);
  'outboxOldestAgeMs'?: (number | string | Long);
}

export interface AgentState__Output {
  'slots': (number);
  'running': (number);
  'draining': (boolean);
  /**
   * "closed" | "open"
   */
  'breakerState': (string);
  /**
   * events waiting on disk
   */
  'outboxDepth': (number);
  'outboxOldestAgeMs': (number);
}
