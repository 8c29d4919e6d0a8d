// Original file: proto/jobrunner/v1/agent.proto

import type { RunningAttempt as _jobrunner_v1_RunningAttempt, RunningAttempt__Output as _jobrunner_v1_RunningAttempt__Output } from '../../jobrunner/v1/RunningAttempt';
import type { AgentState as _jobrunner_v1_AgentState, AgentState__Output as _jobrunner_v1_AgentState__Output } from '../../jobrunner/v1/AgentState';
import type { Long } from '@grpc/proto-loader';

export interface HeartbeatRequest {
  'running'?: (_jobrunner_v1_RunningAttempt)[];
  'state'?: (_jobrunner_v1_AgentState | null);
  'sentAtMs'?: (number | string | Long);
  /**
   * Renewal: a CSR for the key of the certificate this call presents, sent from two thirds of its
   * lifetime on; the answer's certificate_chain_pem carries the new certificate.
   */
  'csrPem'?: (string);
}

export interface HeartbeatRequest__Output {
  'running': (_jobrunner_v1_RunningAttempt__Output)[];
  'state': (_jobrunner_v1_AgentState__Output | null);
  'sentAtMs': (number);
  /**
   * Renewal: a CSR for the key of the certificate this call presents, sent from two thirds of its
   * lifetime on; the answer's certificate_chain_pem carries the new certificate.
   */
  'csrPem': (string);
}
