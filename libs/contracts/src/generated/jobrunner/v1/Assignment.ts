// Original file: proto/jobrunner/v1/agent.proto

import type { JobSpec as _jobrunner_v1_JobSpec, JobSpec__Output as _jobrunner_v1_JobSpec__Output } from '../../jobrunner/v1/JobSpec';
import type { Long } from '@grpc/proto-loader';

export interface Assignment {
  'jobId'?: (string);
  'attempt'?: (number);
  'leaseToken'?: (string);
  'leaseExpiresAtMs'?: (number | string | Long);
  'spec'?: (_jobrunner_v1_JobSpec | null);
  /**
   * The job's secrets by name, opened by the API for this lease only (the API stores them sealed).
   * The agent keeps them in memory, passes them to the steps as environment variables and masks
   * them in the output; it never writes them anywhere.
   */
  'secrets'?: ({[key: string]: string});
}

export interface Assignment__Output {
  'jobId': (string);
  'attempt': (number);
  'leaseToken': (string);
  'leaseExpiresAtMs': (number);
  'spec': (_jobrunner_v1_JobSpec__Output | null);
  /**
   * The job's secrets by name, opened by the API for this lease only (the API stores them sealed).
   * The agent keeps them in memory, passes them to the steps as environment variables and masks
   * them in the output; it never writes them anywhere.
   */
  'secrets': ({[key: string]: string});
}
