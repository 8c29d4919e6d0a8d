// Original file: proto/jobrunner/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface EnrollResponse {
  'agentId'?: (string);
  /**
   * "<agent_id>.<secret>", shown once
   */
  'credential'?: (string);
  'heartbeatIntervalMs'?: (number | string | Long);
  /**
   * The agent's client certificate (PEM, leaf first, then the agent CA), lifetime JR_AGENT_CERT_TTL;
   * empty in plain text or without csr_pem.
   */
  'certificateChainPem'?: (string);
}

export interface EnrollResponse__Output {
  'agentId': (string);
  /**
   * "<agent_id>.<secret>", shown once
   */
  'credential': (string);
  'heartbeatIntervalMs': (number);
  /**
   * The agent's client certificate (PEM, leaf first, then the agent CA), lifetime JR_AGENT_CERT_TTL;
   * empty in plain text or without csr_pem.
   */
  'certificateChainPem': (string);
}
