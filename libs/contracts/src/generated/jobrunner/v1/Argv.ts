// Original file: proto/jobrunner/v1/agent.proto


export interface Argv {
  'args'?: (string)[];
}

export interface Argv__Output {
  'args': (string)[];
}
