// Original file: proto/jobrunner/v1/agent.proto

export const Outcome = {
  OUTCOME_UNSPECIFIED: 'OUTCOME_UNSPECIFIED',
  OUTCOME_SUCCEEDED: 'OUTCOME_SUCCEEDED',
  OUTCOME_FAILED: 'OUTCOME_FAILED',
  OUTCOME_TIMED_OUT: 'OUTCOME_TIMED_OUT',
  OUTCOME_CANCELLED: 'OUTCOME_CANCELLED',
} as const;

export type Outcome =
  | 'OUTCOME_UNSPECIFIED'
  | 0
  | 'OUTCOME_SUCCEEDED'
  | 1
  | 'OUTCOME_FAILED'
  | 2
  | 'OUTCOME_TIMED_OUT'
  | 3
  | 'OUTCOME_CANCELLED'
  | 4

export type Outcome__Output = typeof Outcome[keyof typeof Outcome]
