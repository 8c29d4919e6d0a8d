// Original file: proto/jobrunner/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface LeaseRequest {
  'freeSlots'?: (number);
  /**
   * how long the API may hold the call before answering empty
   */
  'waitMs'?: (number | string | Long);
}

export interface LeaseRequest__Output {
  'freeSlots': (number);
  /**
   * how long the API may hold the call before answering empty
   */
  'waitMs': (number);
}
