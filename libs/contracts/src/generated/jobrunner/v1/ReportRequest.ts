// Original file: proto/jobrunner/v1/agent.proto

import type { AttemptEvent as _jobrunner_v1_AttemptEvent, AttemptEvent__Output as _jobrunner_v1_AttemptEvent__Output } from '../../jobrunner/v1/AttemptEvent';

export interface ReportRequest {
  'jobId'?: (string);
  'attempt'?: (number);
  'leaseToken'?: (string);
  'events'?: (_jobrunner_v1_AttemptEvent)[];
}

export interface ReportRequest__Output {
  'jobId': (string);
  'attempt': (number);
  'leaseToken': (string);
  'events': (_jobrunner_v1_AttemptEvent__Output)[];
}
