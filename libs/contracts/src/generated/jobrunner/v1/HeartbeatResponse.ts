// Original file: proto/jobrunner/v1/agent.proto

import type { Directive as _jobrunner_v1_Directive, Directive__Output as _jobrunner_v1_Directive__Output } from '../../jobrunner/v1/Directive';
import type { Long } from '@grpc/proto-loader';

export interface HeartbeatResponse {
  'directives'?: (_jobrunner_v1_Directive)[];
  'heartbeatIntervalMs'?: (number | string | Long);
  'serverTimeMs'?: (number | string | Long);
  /**
   * Set when the heartbeat asked for renewal (csr_pem) and the presented certificate is past half its
   * lifetime: the new client certificate chain (PEM). Empty otherwise.
   */
  'certificateChainPem'?: (string);
}

export interface HeartbeatResponse__Output {
  'directives': (_jobrunner_v1_Directive__Output)[];
  'heartbeatIntervalMs': (number);
  'serverTimeMs': (number);
  /**
   * Set when the heartbeat asked for renewal (csr_pem) and the presented certificate is past half its
   * lifetime: the new client certificate chain (PEM). Empty otherwise.
   */
  'certificateChainPem': (string);
}
