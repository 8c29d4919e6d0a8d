// Original file: proto/jobrunner/v1/agent.proto


export interface StepStarted {
  /**
   * index into spec.steps
   */
  'step'?: (number);
  'name'?: (string);
  /**
   * 1-based, counts local step retries
   */
  'try'?: (number);
}

export interface StepStarted__Output {
  /**
   * index into spec.steps
   */
  'step': (number);
  'name': (string);
  /**
   * 1-based, counts local step retries
   */
  'try': (number);
}
