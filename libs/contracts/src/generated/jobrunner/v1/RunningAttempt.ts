// Original file: proto/jobrunner/v1/agent.proto


export interface RunningAttempt {
  'jobId'?: (string);
  'attempt'?: (number);
  'leaseToken'?: (string);
}

export interface RunningAttempt__Output {
  'jobId': (string);
  'attempt': (number);
  'leaseToken': (string);
}
