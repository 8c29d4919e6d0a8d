import * as net from 'node:net';
import type { ControlCommand, ControlResponse } from './control-protocol';

/** The agent is not running (no socket, or nobody behind it). */
export class AgentNotRunningError extends Error {
  override readonly name = 'AgentNotRunningError';
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Sends one command to the agent's control socket and returns its answer. */
export function sendControlCommand(
  socketPath: string,
  command: ControlCommand,
  timeoutMs = 10_000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let text = '';
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => fail(new Error(`the agent did not answer within ${timeoutMs}ms`)));
    socket.once('connect', () => socket.write(`${JSON.stringify({ command })}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_RESPONSE_BYTES) fail(new Error('answer too long'));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        fail(new AgentNotRunningError(`no jr-agent is running with this JR_DATA_DIR (${socketPath}: ${err.code})`));
      else fail(err);
    });
    socket.once('end', () => {
      try {
        const res = JSON.parse(text.trim()) as ControlResponse;
        if (typeof res !== 'object' || res === null || typeof res.ok !== 'boolean')
          throw new Error('not a control answer');
        resolve(res);
      } catch {
        reject(new Error(`unreadable answer from the agent: ${JSON.stringify(text.slice(0, 200))}`));
      }
    });
  });
}
