// Original file: proto/jobrunner/v1/agent.proto

import type { Artifact as _jobrunner_v1_Artifact, Artifact__Output as _jobrunner_v1_Artifact__Output } from '../../jobrunner/v1/Artifact';
import type { Step as _jobrunner_v1_Step, Step__Output as _jobrunner_v1_Step__Output } from '../../jobrunner/v1/Step';
import type { JobSignature as _jobrunner_v1_JobSignature, JobSignature__Output as _jobrunner_v1_JobSignature__Output } from '../../jobrunner/v1/JobSignature';
import type { Long } from '@grpc/proto-loader';

export interface JobSpec {
  'name'?: (string);
  'pool'?: (string);
  'labels'?: ({[key: string]: string});
  /**
   * whole attempt; 0: none
   */
  'timeoutMs'?: (number | string | Long);
  'env'?: ({[key: string]: string});
  'uses'?: (_jobrunner_v1_Artifact)[];
  'steps'?: (_jobrunner_v1_Step)[];
  /**
   * The submitter's signature (jr submit with JR_JOB_SIGNING_KEY), stored with the job and passed on
   * unchanged; unset for an unsigned job. Agents with JR_JOB_VERIFY_KEYS refuse a job without a valid one.
   */
  'signature'?: (_jobrunner_v1_JobSignature | null);
}

export interface JobSpec__Output {
  'name': (string);
  'pool': (string);
  'labels': ({[key: string]: string});
  /**
   * whole attempt; 0: none
   */
  'timeoutMs': (number);
  'env': ({[key: string]: string});
  'uses': (_jobrunner_v1_Artifact__Output)[];
  'steps': (_jobrunner_v1_Step__Output)[];
  /**
   * The submitter's signature (jr submit with JR_JOB_SIGNING_KEY), stored with the job and passed on
   * unchanged; unset for an unsigned job. Agents with JR_JOB_VERIFY_KEYS refuse a job without a valid one.
   */
  'signature': (_jobrunner_v1_JobSignature__Output | null);
}
