// Original file: proto/jobrunner/v1/agent.proto

import type { Argv as _jobrunner_v1_Argv, Argv__Output as _jobrunner_v1_Argv__Output } from '../../jobrunner/v1/Argv';
import type { Long } from '@grpc/proto-loader';

export interface Step {
  'name'?: (string);
  /**
   * run by /bin/sh -c
   */
  'shell'?: (string);
  /**
   * run without a shell
   */
  'argv'?: (_jobrunner_v1_Argv | null);
  /**
   * 0: no step timeout
   */
  'timeoutMs'?: (number | string | Long);
  /**
   * local re-runs of this step on a non-zero exit
   */
  'retries'?: (number);
  /**
   * run by the agent itself, no process: "noop" (canary jobs)
   */
  'builtin'?: (string);
  'run'?: "shell"|"argv"|"builtin";
}

export interface Step__Output {
  'name': (string);
  /**
   * run by /bin/sh -c
   */
  'shell'?: (string);
  /**
   * run without a shell
   */
  'argv'?: (_jobrunner_v1_Argv__Output | null);
  /**
   * 0: no step timeout
   */
  'timeoutMs': (number);
  /**
   * local re-runs of this step on a non-zero exit
   */
  'retries': (number);
  /**
   * run by the agent itself, no process: "noop" (canary jobs)
   */
  'builtin'?: (string);
  'run'?: "shell"|"argv"|"builtin";
}
