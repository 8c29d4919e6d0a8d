import { HttpClient } from './api-client';
import { colorsFor, type Colors } from './colors';
import type { ConnectionFlags } from './config';
import { resolveConnection } from './connection';
import { JobsApi } from './jobs-api';
import type { Io } from './output';
import type { Clock } from './timing';

/** What every command gets: the outside world, a clock, and the API (config parsed on first use). */
export interface Context {
  io: Io;
  clock: Clock;
  /** The global --api-url/--token/--context flags of this run (set before the command's action). */
  flags: ConnectionFlags;
  /** State colours for stdout (all no-ops unless stdout is a TTY and NO_COLOR is unset, or FORCE_COLOR). */
  colors: Colors;
  api(): JobsApi;
}

export function createContext(io: Io, clock: Clock): Context {
  let api: JobsApi | undefined;
  const ctx: Context = {
    io,
    clock,
    flags: {},
    colors: colorsFor(io.stdout, io.env),
    api: () =>
      (api ??= new JobsApi(
        new HttpClient(
          resolveConnection(io.env, ctx.flags, (line) => io.stderr.write(`jr: ${line}\n`)),
          clock,
        ),
      )),
  };
  return ctx;
}

/** Commands report their exit code through this. */
export type SetExit = (code: number) => void;
