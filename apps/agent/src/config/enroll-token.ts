import { readFile } from 'node:fs/promises';
import type { AgentConfig } from './agent-config';
import { AgentStopError } from '../errors';

/** JR_ENROLL_TOKEN or JR_ENROLL_TOKEN_FILE is set. */
export function hasEnrollToken(config: Pick<AgentConfig, 'enrollToken' | 'enrollTokenFile'>): boolean {
  return config.enrollToken !== undefined || config.enrollTokenFile !== undefined;
}

/**
 * The enroll token, read only when enrolling: from JR_ENROLL_TOKEN, or from JR_ENROLL_TOKEN_FILE (systemd's
 * LoadCredential=, so the token is never in the agent's environment, /proc/PID/environ, nor kept in memory).
 */
export async function readEnrollToken(
  config: Pick<AgentConfig, 'enrollToken' | 'enrollTokenFile'>,
): Promise<string | undefined> {
  if (config.enrollTokenFile === undefined) return config.enrollToken;
  const file = config.enrollTokenFile;
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new AgentStopError(
      'no_enroll_token',
      `JR_ENROLL_TOKEN_FILE ${file} cannot be read (${err.code ?? err.message})`,
    );
  });
  const token = text.replace(/\r?\n$/, '');
  if (!/^[\x21-\x7e]{1,4096}$/.test(token))
    throw new AgentStopError(
      'no_enroll_token',
      `JR_ENROLL_TOKEN_FILE ${file} must hold one token of printable ASCII without spaces`,
    );
  return token;
}
