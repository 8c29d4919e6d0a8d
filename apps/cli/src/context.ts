import { HttpClient } from './api-client';
import { parseConfig } from './config';
import { JobsApi } from './jobs-api';
import type { Io } from './output';
import type { Clock } from './timing';

/** What every command gets: the outside world, a clock, and the API (config parsed on first use). */
export interface Context {
  io: Io;
  clock: Clock;
  api(): JobsApi;
}

export function createContext(io: Io, clock: Clock): Context {
  let api: JobsApi | undefined;
  return {
    io,
    clock,
    api: () => (api ??= new JobsApi(new HttpClient(parseConfig(io.env), clock))),
  };
}

/** Commands report their exit code through this. */
export type SetExit = (code: number) => void;
