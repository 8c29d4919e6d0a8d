// Original file: proto/jobrunner/v1/agent.proto

import type { StepStarted as _jobrunner_v1_StepStarted, StepStarted__Output as _jobrunner_v1_StepStarted__Output } from '../../jobrunner/v1/StepStarted';
import type { StepFinished as _jobrunner_v1_StepFinished, StepFinished__Output as _jobrunner_v1_StepFinished__Output } from '../../jobrunner/v1/StepFinished';
import type { LogChunk as _jobrunner_v1_LogChunk, LogChunk__Output as _jobrunner_v1_LogChunk__Output } from '../../jobrunner/v1/LogChunk';
import type { Long } from '@grpc/proto-loader';

export interface AttemptEvent {
  /**
   * per attempt, from 1, no gaps; the API dedups on (job, attempt, seq)
   */
  'seq'?: (number | string | Long);
  'atMs'?: (number | string | Long);
  'stepStarted'?: (_jobrunner_v1_StepStarted | null);
  'stepFinished'?: (_jobrunner_v1_StepFinished | null);
  'log'?: (_jobrunner_v1_LogChunk | null);
  'kind'?: "stepStarted"|"stepFinished"|"log";
}

export interface AttemptEvent__Output {
  /**
   * per attempt, from 1, no gaps; the API dedups on (job, attempt, seq)
   */
  'seq': (number);
  'atMs': (number);
  'stepStarted'?: (_jobrunner_v1_StepStarted__Output | null);
  'stepFinished'?: (_jobrunner_v1_StepFinished__Output | null);
  'log'?: (_jobrunner_v1_LogChunk__Output | null);
  'kind'?: "stepStarted"|"stepFinished"|"log";
}
