// Original file: proto/jobrunner/v1/agent.proto

import type { Artifact as _jobrunner_v1_Artifact, Artifact__Output as _jobrunner_v1_Artifact__Output } from '../../jobrunner/v1/Artifact';
import type { Step as _jobrunner_v1_Step, Step__Output as _jobrunner_v1_Step__Output } from '../../jobrunner/v1/Step';
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
}
