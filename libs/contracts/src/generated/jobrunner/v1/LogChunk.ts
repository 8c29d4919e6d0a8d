// Original file: proto/jobrunner/v1/agent.proto


export interface LogChunk {
  'step'?: (number);
  /**
   * "stdout" | "stderr"
   */
  'stream'?: (string);
  'data'?: (Buffer | Uint8Array | string);
}

export interface LogChunk__Output {
  'step': (number);
  /**
   * "stdout" | "stderr"
   */
  'stream': (string);
  'data': (Buffer);
}
