// Original file: proto/jobrunner/v1/agent.proto


export interface Artifact {
  'url'?: (string);
  'sha256'?: (string);
}

export interface Artifact__Output {
  'url': (string);
  'sha256': (string);
}
