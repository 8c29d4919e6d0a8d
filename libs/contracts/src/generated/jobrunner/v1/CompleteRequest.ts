// Original file: proto/jobrunner/v1/agent.proto

import type { Outcome as _jobrunner_v1_Outcome, Outcome__Output as _jobrunner_v1_Outcome__Output } from '../../jobrunner/v1/Outcome';
import type { Long } from '@grpc/proto-loader';

export interface CompleteRequest {
  'jobId'?: (string);
  'attempt'?: (number);
  'leaseToken'?: (string);
  'outcome'?: (_jobrunner_v1_Outcome);
  'exitCode'?: (number);
  /**
   * e.g. "step_failed", "timeout", "cancelled", "download_failed"
   */
  'reason'?: (string);
  'startedAtMs'?: (number | string | Long);
  'endedAtMs'?: (number | string | Long);
  /**
   * seq of the last event reported before completion
   */
  'lastSeq'?: (number | string | Long);
}

export interface CompleteRequest__Output {
  'jobId': (string);
  'attempt': (number);
  'leaseToken': (string);
  'outcome': (_jobrunner_v1_Outcome__Output);
  'exitCode': (number);
  /**
   * e.g. "step_failed", "timeout", "cancelled", "download_failed"
   */
  'reason': (string);
  'startedAtMs': (number);
  'endedAtMs': (number);
  /**
   * seq of the last event reported before completion
   */
  'lastSeq': (number);
}
