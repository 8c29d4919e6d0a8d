import * as path from 'node:path';

/**
 * The local control protocol: one JSON line in (`{"command": …}`), one JSON line out, then the
 * server closes the connection. Spoken over `$JR_DATA_DIR/control.sock` (mode 0600: only the
 * agent's user may connect).
 */
export const CONTROL_COMMANDS = ['reporting.enable', 'reporting.status', 'agent.status'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export type ControlResponse = { ok: true; [key: string]: unknown } | { ok: false; error: string };

/** A request longer than this is refused (and the connection closed). */
export const MAX_REQUEST_BYTES = 1_024;
/** Unix socket paths longer than this do not fit sockaddr_un on Linux. */
export const MAX_SOCKET_PATH_BYTES = 107;

export function controlSocketPath(dataDir: string): string {
  return path.join(dataDir, 'control.sock');
}

/** The command of one request line, or why it is not one. */
export function parseRequest(line: string): { ok: true; command: ControlCommand } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, error: 'request must be a JSON object' };
  const keys = Object.keys(json);
  const command = (json as { command?: unknown }).command;
  if (keys.length !== 1 || keys[0] !== 'command' || typeof command !== 'string')
    return { ok: false, error: 'request must be {"command": "<name>"}' };
  if (!(CONTROL_COMMANDS as readonly string[]).includes(command)) {
    return {
      ok: false,
      error: `unknown command ${JSON.stringify(command.slice(0, 64))}; known: ${CONTROL_COMMANDS.join(', ')}`,
    };
  }
  return { ok: true, command: command as ControlCommand };
}
