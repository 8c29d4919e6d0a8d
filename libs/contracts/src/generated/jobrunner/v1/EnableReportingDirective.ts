// Original file: proto/jobrunner/v1/agent.proto


export interface EnableReportingDirective {
}

export interface EnableReportingDirective__Output {
}
