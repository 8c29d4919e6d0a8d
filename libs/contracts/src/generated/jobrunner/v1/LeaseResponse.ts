// Original file: proto/jobrunner/v1/agent.proto

import type { Assignment as _jobrunner_v1_Assignment, Assignment__Output as _jobrunner_v1_Assignment__Output } from '../../jobrunner/v1/Assignment';

export interface LeaseResponse {
  'assignments'?: (_jobrunner_v1_Assignment)[];
}

export interface LeaseResponse__Output {
  'assignments': (_jobrunner_v1_Assignment__Output)[];
}
