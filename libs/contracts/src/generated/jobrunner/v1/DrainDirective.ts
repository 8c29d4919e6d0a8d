// Original file: proto/jobrunner/v1/agent.proto


export interface DrainDirective {
}

export interface DrainDirective__Output {
}
