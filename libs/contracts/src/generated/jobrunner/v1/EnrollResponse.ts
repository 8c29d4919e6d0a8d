// Original file: proto/jobrunner/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface EnrollResponse {
  'agentId'?: (string);
  /**
   * "<agent_id>.<secret>", shown once
   */
  'credential'?: (string);
  'heartbeatIntervalMs'?: (number | string | Long);
}

export interface EnrollResponse__Output {
  'agentId': (string);
  /**
   * "<agent_id>.<secret>", shown once
   */
  'credential': (string);
  'heartbeatIntervalMs': (number);
}
