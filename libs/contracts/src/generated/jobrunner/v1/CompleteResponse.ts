// Original file: proto/jobrunner/v1/agent.proto


export interface CompleteResponse {
  /**
   * the job's state after this completion
   */
  'jobState'?: (string);
}

export interface CompleteResponse__Output {
  /**
   * the job's state after this completion
   */
  'jobState': (string);
}
