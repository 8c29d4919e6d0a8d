// Original file: proto/jobrunner/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CompleteRequest as _jobrunner_v1_CompleteRequest, CompleteRequest__Output as _jobrunner_v1_CompleteRequest__Output } from '../../jobrunner/v1/CompleteRequest';
import type { CompleteResponse as _jobrunner_v1_CompleteResponse, CompleteResponse__Output as _jobrunner_v1_CompleteResponse__Output } from '../../jobrunner/v1/CompleteResponse';
import type { EnrollRequest as _jobrunner_v1_EnrollRequest, EnrollRequest__Output as _jobrunner_v1_EnrollRequest__Output } from '../../jobrunner/v1/EnrollRequest';
import type { EnrollResponse as _jobrunner_v1_EnrollResponse, EnrollResponse__Output as _jobrunner_v1_EnrollResponse__Output } from '../../jobrunner/v1/EnrollResponse';
import type { HeartbeatRequest as _jobrunner_v1_HeartbeatRequest, HeartbeatRequest__Output as _jobrunner_v1_HeartbeatRequest__Output } from '../../jobrunner/v1/HeartbeatRequest';
import type { HeartbeatResponse as _jobrunner_v1_HeartbeatResponse, HeartbeatResponse__Output as _jobrunner_v1_HeartbeatResponse__Output } from '../../jobrunner/v1/HeartbeatResponse';
import type { LeaseRequest as _jobrunner_v1_LeaseRequest, LeaseRequest__Output as _jobrunner_v1_LeaseRequest__Output } from '../../jobrunner/v1/LeaseRequest';
import type { LeaseResponse as _jobrunner_v1_LeaseResponse, LeaseResponse__Output as _jobrunner_v1_LeaseResponse__Output } from '../../jobrunner/v1/LeaseResponse';
import type { ReportRequest as _jobrunner_v1_ReportRequest, ReportRequest__Output as _jobrunner_v1_ReportRequest__Output } from '../../jobrunner/v1/ReportRequest';
import type { ReportResponse as _jobrunner_v1_ReportResponse, ReportResponse__Output as _jobrunner_v1_ReportResponse__Output } from '../../jobrunner/v1/ReportResponse';

export interface AgentServiceClient extends grpc.Client {
  /**
   * The attempt's final outcome. Same fencing as Report.
   */
  Complete(argument: _jobrunner_v1_CompleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  Complete(argument: _jobrunner_v1_CompleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  Complete(argument: _jobrunner_v1_CompleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  Complete(argument: _jobrunner_v1_CompleteRequest, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The attempt's final outcome. Same fencing as Report.
   */
  complete(argument: _jobrunner_v1_CompleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  complete(argument: _jobrunner_v1_CompleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  complete(argument: _jobrunner_v1_CompleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  complete(argument: _jobrunner_v1_CompleteRequest, callback: grpc.requestCallback<_jobrunner_v1_CompleteResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Exchange the enroll token for a per-agent credential (stored hashed by the API).
   */
  Enroll(argument: _jobrunner_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _jobrunner_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _jobrunner_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _jobrunner_v1_EnrollRequest, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Exchange the enroll token for a per-agent credential (stored hashed by the API).
   */
  enroll(argument: _jobrunner_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _jobrunner_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _jobrunner_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _jobrunner_v1_EnrollRequest, callback: grpc.requestCallback<_jobrunner_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Runs on its own schedule. Extends the leases of the attempts listed, carries the agent's
   * state, and answers with directives (cancel, drain, re-enable reporting).
   */
  Heartbeat(argument: _jobrunner_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _jobrunner_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _jobrunner_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _jobrunner_v1_HeartbeatRequest, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Runs on its own schedule. Extends the leases of the attempts listed, carries the agent's
   * state, and answers with directives (cancel, drain, re-enable reporting).
   */
  heartbeat(argument: _jobrunner_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _jobrunner_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _jobrunner_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _jobrunner_v1_HeartbeatRequest, callback: grpc.requestCallback<_jobrunner_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Long poll: waits (bounded by wait_ms and the call's deadline) until a job of the agent's pool
   * that its labels satisfy is available. An empty answer means "nothing yet, ask again".
   */
  Lease(argument: _jobrunner_v1_LeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  Lease(argument: _jobrunner_v1_LeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  Lease(argument: _jobrunner_v1_LeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  Lease(argument: _jobrunner_v1_LeaseRequest, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Long poll: waits (bounded by wait_ms and the call's deadline) until a job of the agent's pool
   * that its labels satisfy is available. An empty answer means "nothing yet, ask again".
   */
  lease(argument: _jobrunner_v1_LeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  lease(argument: _jobrunner_v1_LeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  lease(argument: _jobrunner_v1_LeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  lease(argument: _jobrunner_v1_LeaseRequest, callback: grpc.requestCallback<_jobrunner_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Status and log events of one attempt, in order. Refused with FAILED_PRECONDITION
   * (reason "superseded") when the lease token is no longer the attempt's.
   */
  Report(argument: _jobrunner_v1_ReportRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  Report(argument: _jobrunner_v1_ReportRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  Report(argument: _jobrunner_v1_ReportRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  Report(argument: _jobrunner_v1_ReportRequest, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Status and log events of one attempt, in order. Refused with FAILED_PRECONDITION
   * (reason "superseded") when the lease token is no longer the attempt's.
   */
  report(argument: _jobrunner_v1_ReportRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  report(argument: _jobrunner_v1_ReportRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  report(argument: _jobrunner_v1_ReportRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  report(argument: _jobrunner_v1_ReportRequest, callback: grpc.requestCallback<_jobrunner_v1_ReportResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The attempt's final outcome. Same fencing as Report.
   */
  Complete: grpc.handleUnaryCall<_jobrunner_v1_CompleteRequest__Output, _jobrunner_v1_CompleteResponse>;
  
  /**
   * Exchange the enroll token for a per-agent credential (stored hashed by the API).
   */
  Enroll: grpc.handleUnaryCall<_jobrunner_v1_EnrollRequest__Output, _jobrunner_v1_EnrollResponse>;
  
  /**
   * Runs on its own schedule. Extends the leases of the attempts listed, carries the agent's
   * state, and answers with directives (cancel, drain, re-enable reporting).
   */
  Heartbeat: grpc.handleUnaryCall<_jobrunner_v1_HeartbeatRequest__Output, _jobrunner_v1_HeartbeatResponse>;
  
  /**
   * Long poll: waits (bounded by wait_ms and the call's deadline) until a job of the agent's pool
   * that its labels satisfy is available. An empty answer means "nothing yet, ask again".
   */
  Lease: grpc.handleUnaryCall<_jobrunner_v1_LeaseRequest__Output, _jobrunner_v1_LeaseResponse>;
  
  /**
   * Status and log events of one attempt, in order. Refused with FAILED_PRECONDITION
   * (reason "superseded") when the lease token is no longer the attempt's.
   */
  Report: grpc.handleUnaryCall<_jobrunner_v1_ReportRequest__Output, _jobrunner_v1_ReportResponse>;
  
}

export interface AgentServiceDefinition extends grpc.ServiceDefinition {
  Complete: MethodDefinition<_jobrunner_v1_CompleteRequest, _jobrunner_v1_CompleteResponse, _jobrunner_v1_CompleteRequest__Output, _jobrunner_v1_CompleteResponse__Output>
  Enroll: MethodDefinition<_jobrunner_v1_EnrollRequest, _jobrunner_v1_EnrollResponse, _jobrunner_v1_EnrollRequest__Output, _jobrunner_v1_EnrollResponse__Output>
  Heartbeat: MethodDefinition<_jobrunner_v1_HeartbeatRequest, _jobrunner_v1_HeartbeatResponse, _jobrunner_v1_HeartbeatRequest__Output, _jobrunner_v1_HeartbeatResponse__Output>
  Lease: MethodDefinition<_jobrunner_v1_LeaseRequest, _jobrunner_v1_LeaseResponse, _jobrunner_v1_LeaseRequest__Output, _jobrunner_v1_LeaseResponse__Output>
  Report: MethodDefinition<_jobrunner_v1_ReportRequest, _jobrunner_v1_ReportResponse, _jobrunner_v1_ReportRequest__Output, _jobrunner_v1_ReportResponse__Output>
}
