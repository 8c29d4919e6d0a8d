import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentServiceClient as _jobrunner_v1_AgentServiceClient, AgentServiceDefinition as _jobrunner_v1_AgentServiceDefinition } from './jobrunner/v1/AgentService';
import type { AgentState as _jobrunner_v1_AgentState, AgentState__Output as _jobrunner_v1_AgentState__Output } from './jobrunner/v1/AgentState';
import type { Argv as _jobrunner_v1_Argv, Argv__Output as _jobrunner_v1_Argv__Output } from './jobrunner/v1/Argv';
import type { Artifact as _jobrunner_v1_Artifact, Artifact__Output as _jobrunner_v1_Artifact__Output } from './jobrunner/v1/Artifact';
import type { Assignment as _jobrunner_v1_Assignment, Assignment__Output as _jobrunner_v1_Assignment__Output } from './jobrunner/v1/Assignment';
import type { AttemptEvent as _jobrunner_v1_AttemptEvent, AttemptEvent__Output as _jobrunner_v1_AttemptEvent__Output } from './jobrunner/v1/AttemptEvent';
import type { CancelDirective as _jobrunner_v1_CancelDirective, CancelDirective__Output as _jobrunner_v1_CancelDirective__Output } from './jobrunner/v1/CancelDirective';
import type { CompleteRequest as _jobrunner_v1_CompleteRequest, CompleteRequest__Output as _jobrunner_v1_CompleteRequest__Output } from './jobrunner/v1/CompleteRequest';
import type { CompleteResponse as _jobrunner_v1_CompleteResponse, CompleteResponse__Output as _jobrunner_v1_CompleteResponse__Output } from './jobrunner/v1/CompleteResponse';
import type { Directive as _jobrunner_v1_Directive, Directive__Output as _jobrunner_v1_Directive__Output } from './jobrunner/v1/Directive';
import type { DrainDirective as _jobrunner_v1_DrainDirective, DrainDirective__Output as _jobrunner_v1_DrainDirective__Output } from './jobrunner/v1/DrainDirective';
import type { EnableReportingDirective as _jobrunner_v1_EnableReportingDirective, EnableReportingDirective__Output as _jobrunner_v1_EnableReportingDirective__Output } from './jobrunner/v1/EnableReportingDirective';
import type { EnrollRequest as _jobrunner_v1_EnrollRequest, EnrollRequest__Output as _jobrunner_v1_EnrollRequest__Output } from './jobrunner/v1/EnrollRequest';
import type { EnrollResponse as _jobrunner_v1_EnrollResponse, EnrollResponse__Output as _jobrunner_v1_EnrollResponse__Output } from './jobrunner/v1/EnrollResponse';
import type { HeartbeatRequest as _jobrunner_v1_HeartbeatRequest, HeartbeatRequest__Output as _jobrunner_v1_HeartbeatRequest__Output } from './jobrunner/v1/HeartbeatRequest';
import type { HeartbeatResponse as _jobrunner_v1_HeartbeatResponse, HeartbeatResponse__Output as _jobrunner_v1_HeartbeatResponse__Output } from './jobrunner/v1/HeartbeatResponse';
import type { JobSignature as _jobrunner_v1_JobSignature, JobSignature__Output as _jobrunner_v1_JobSignature__Output } from './jobrunner/v1/JobSignature';
import type { JobSpec as _jobrunner_v1_JobSpec, JobSpec__Output as _jobrunner_v1_JobSpec__Output } from './jobrunner/v1/JobSpec';
import type { LeaseRequest as _jobrunner_v1_LeaseRequest, LeaseRequest__Output as _jobrunner_v1_LeaseRequest__Output } from './jobrunner/v1/LeaseRequest';
import type { LeaseResponse as _jobrunner_v1_LeaseResponse, LeaseResponse__Output as _jobrunner_v1_LeaseResponse__Output } from './jobrunner/v1/LeaseResponse';
import type { LogChunk as _jobrunner_v1_LogChunk, LogChunk__Output as _jobrunner_v1_LogChunk__Output } from './jobrunner/v1/LogChunk';
import type { ReportRequest as _jobrunner_v1_ReportRequest, ReportRequest__Output as _jobrunner_v1_ReportRequest__Output } from './jobrunner/v1/ReportRequest';
import type { ReportResponse as _jobrunner_v1_ReportResponse, ReportResponse__Output as _jobrunner_v1_ReportResponse__Output } from './jobrunner/v1/ReportResponse';
import type { RunningAttempt as _jobrunner_v1_RunningAttempt, RunningAttempt__Output as _jobrunner_v1_RunningAttempt__Output } from './jobrunner/v1/RunningAttempt';
import type { Step as _jobrunner_v1_Step, Step__Output as _jobrunner_v1_Step__Output } from './jobrunner/v1/Step';
import type { StepFinished as _jobrunner_v1_StepFinished, StepFinished__Output as _jobrunner_v1_StepFinished__Output } from './jobrunner/v1/StepFinished';
import type { StepStarted as _jobrunner_v1_StepStarted, StepStarted__Output as _jobrunner_v1_StepStarted__Output } from './jobrunner/v1/StepStarted';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  jobrunner: {
    v1: {
      AgentService: SubtypeConstructor<typeof grpc.Client, _jobrunner_v1_AgentServiceClient> & { service: _jobrunner_v1_AgentServiceDefinition }
      AgentState: MessageTypeDefinition<_jobrunner_v1_AgentState, _jobrunner_v1_AgentState__Output>
      Argv: MessageTypeDefinition<_jobrunner_v1_Argv, _jobrunner_v1_Argv__Output>
      Artifact: MessageTypeDefinition<_jobrunner_v1_Artifact, _jobrunner_v1_Artifact__Output>
      Assignment: MessageTypeDefinition<_jobrunner_v1_Assignment, _jobrunner_v1_Assignment__Output>
      AttemptEvent: MessageTypeDefinition<_jobrunner_v1_AttemptEvent, _jobrunner_v1_AttemptEvent__Output>
      CancelDirective: MessageTypeDefinition<_jobrunner_v1_CancelDirective, _jobrunner_v1_CancelDirective__Output>
      CompleteRequest: MessageTypeDefinition<_jobrunner_v1_CompleteRequest, _jobrunner_v1_CompleteRequest__Output>
      CompleteResponse: MessageTypeDefinition<_jobrunner_v1_CompleteResponse, _jobrunner_v1_CompleteResponse__Output>
      Directive: MessageTypeDefinition<_jobrunner_v1_Directive, _jobrunner_v1_Directive__Output>
      DrainDirective: MessageTypeDefinition<_jobrunner_v1_DrainDirective, _jobrunner_v1_DrainDirective__Output>
      EnableReportingDirective: MessageTypeDefinition<_jobrunner_v1_EnableReportingDirective, _jobrunner_v1_EnableReportingDirective__Output>
      EnrollRequest: MessageTypeDefinition<_jobrunner_v1_EnrollRequest, _jobrunner_v1_EnrollRequest__Output>
      EnrollResponse: MessageTypeDefinition<_jobrunner_v1_EnrollResponse, _jobrunner_v1_EnrollResponse__Output>
      HeartbeatRequest: MessageTypeDefinition<_jobrunner_v1_HeartbeatRequest, _jobrunner_v1_HeartbeatRequest__Output>
      HeartbeatResponse: MessageTypeDefinition<_jobrunner_v1_HeartbeatResponse, _jobrunner_v1_HeartbeatResponse__Output>
      JobSignature: MessageTypeDefinition<_jobrunner_v1_JobSignature, _jobrunner_v1_JobSignature__Output>
      JobSpec: MessageTypeDefinition<_jobrunner_v1_JobSpec, _jobrunner_v1_JobSpec__Output>
      LeaseRequest: MessageTypeDefinition<_jobrunner_v1_LeaseRequest, _jobrunner_v1_LeaseRequest__Output>
      LeaseResponse: MessageTypeDefinition<_jobrunner_v1_LeaseResponse, _jobrunner_v1_LeaseResponse__Output>
      LogChunk: MessageTypeDefinition<_jobrunner_v1_LogChunk, _jobrunner_v1_LogChunk__Output>
      Outcome: EnumTypeDefinition
      ReportRequest: MessageTypeDefinition<_jobrunner_v1_ReportRequest, _jobrunner_v1_ReportRequest__Output>
      ReportResponse: MessageTypeDefinition<_jobrunner_v1_ReportResponse, _jobrunner_v1_ReportResponse__Output>
      RunningAttempt: MessageTypeDefinition<_jobrunner_v1_RunningAttempt, _jobrunner_v1_RunningAttempt__Output>
      Step: MessageTypeDefinition<_jobrunner_v1_Step, _jobrunner_v1_Step__Output>
      StepFinished: MessageTypeDefinition<_jobrunner_v1_StepFinished, _jobrunner_v1_StepFinished__Output>
      StepStarted: MessageTypeDefinition<_jobrunner_v1_StepStarted, _jobrunner_v1_StepStarted__Output>
    }
  }
}

