// Original file: proto/jobrunner/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ReportResponse {
  /**
   * highest seq the API holds for this attempt
   */
  'ackedSeq'?: (number | string | Long);
}

export interface ReportResponse__Output {
  /**
   * highest seq the API holds for this attempt
   */
  'ackedSeq': (number);
}
