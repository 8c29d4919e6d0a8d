// Original file: proto/jobrunner/v1/agent.proto

import type { CancelDirective as _jobrunner_v1_CancelDirective, CancelDirective__Output as _jobrunner_v1_CancelDirective__Output } from '../../jobrunner/v1/CancelDirective';
import type { DrainDirective as _jobrunner_v1_DrainDirective, DrainDirective__Output as _jobrunner_v1_DrainDirective__Output } from '../../jobrunner/v1/DrainDirective';
import type { EnableReportingDirective as _jobrunner_v1_EnableReportingDirective, EnableReportingDirective__Output as _jobrunner_v1_EnableReportingDirective__Output } from '../../jobrunner/v1/EnableReportingDirective';

export interface Directive {
  'cancel'?: (_jobrunner_v1_CancelDirective | null);
  'drain'?: (_jobrunner_v1_DrainDirective | null);
  'enableReporting'?: (_jobrunner_v1_EnableReportingDirective | null);
  'kind'?: "cancel"|"drain"|"enableReporting";
}

export interface Directive__Output {
  'cancel'?: (_jobrunner_v1_CancelDirective__Output | null);
  'drain'?: (_jobrunner_v1_DrainDirective__Output | null);
  'enableReporting'?: (_jobrunner_v1_EnableReportingDirective__Output | null);
  'kind'?: "cancel"|"drain"|"enableReporting";
}
