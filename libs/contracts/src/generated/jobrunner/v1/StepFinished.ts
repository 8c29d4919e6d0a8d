// Original file: proto/jobrunner/v1/agent.proto


export interface StepFinished {
  'step'?: (number);
  /**
   * -1 when killed by a signal
   */
  'exitCode'?: (number);
  'signal'?: (string);
  /**
   * "succeeded" | "failed" | "timed_out" | "cancelled"
   */
  'outcome'?: (string);
}

export interface StepFinished__Output {
  'step': (number);
  /**
   * -1 when killed by a signal
   */
  'exitCode': (number);
  'signal': (string);
  /**
   * "succeeded" | "failed" | "timed_out" | "cancelled"
   */
  'outcome': (string);
}
