// Original file: proto/jobrunner/v1/agent.proto


export interface CancelDirective {
  'jobId'?: (string);
  'attempt'?: (number);
  /**
   * "cancelled" | "lease_lost" | "superseded"
   */
  'reason'?: (string);
}

export interface CancelDirective__Output {
  'jobId': (string);
  'attempt': (number);
  /**
   * "cancelled" | "lease_lost" | "superseded"
   */
  'reason': (string);
}
