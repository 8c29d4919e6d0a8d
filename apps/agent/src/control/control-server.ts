import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { AgentStopError } from '../errors';
import {
  MAX_REQUEST_BYTES,
  MAX_SOCKET_PATH_BYTES,
  parseRequest,
  type ControlCommand,
  type ControlResponse,
} from './control-protocol';

export type ControlHandler = (command: ControlCommand) => Promise<ControlResponse>;

const IDLE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 16;

/**
 * The agent's local control socket (`jr-agent reporting enable|status`). Owner-only: created under
 * umask 0177 and chmod'ed 0600. It doubles as a guard against two agents on one data directory.
 */
export class ControlServer {
  private constructor(
    private readonly server: net.Server,
    readonly socketPath: string,
  ) {}

  /** Listens; undefined (with a warning) when the path is too long for a unix socket. */
  static async start(
    socketPath: string,
    handle: ControlHandler,
    logger: Logger,
    idleTimeoutMs = IDLE_TIMEOUT_MS,
  ): Promise<ControlServer | undefined> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      logger.warn(
        { socketPath },
        `JR_DATA_DIR is too long for a control socket (max ${MAX_SOCKET_PATH_BYTES} bytes): jr-agent reporting commands are unavailable, SIGUSR2 still works`,
      );
      return undefined;
    }
    await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
    await removeStaleSocket(socketPath);
    const server = net.createServer((socket) => serve(socket, handle, logger, idleTimeoutMs));
    server.maxConnections = MAX_CONNECTIONS;
    await listenOwnerOnly(server, socketPath);
    await chmod(socketPath, 0o600);
    return new ControlServer(server, socketPath);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await unlink(this.socketPath).catch(() => undefined);
  }
}

/** bind() creates the socket file: under umask 0177 it is 0600 from its first moment. */
function listenOwnerOnly(server: net.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const previous = process.umask(0o177);
    try {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

/** A socket file left by a crashed agent is removed; one with a live agent behind it stops us. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const st = await lstat(socketPath).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket())
    throw new AgentStopError('data_dir_in_use', `${socketPath} exists and is not a socket; remove it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (alive)
    throw new AgentStopError(
      'data_dir_in_use',
      `another jr-agent is running with this JR_DATA_DIR (${socketPath} answers)`,
    );
  await unlink(socketPath);
}

function serve(socket: net.Socket, handle: ControlHandler, logger: Logger, idleTimeoutMs: number): void {
  let buffered = '';
  let answered = false;
  socket.setEncoding('utf8');
  socket.setTimeout(idleTimeoutMs, () => reply({ ok: false, error: 'no request in time' }));
  socket.on('error', () => socket.destroy());
  const reply = (res: ControlResponse): void => {
    if (answered) return;
    answered = true;
    socket.end(`${JSON.stringify(res)}\n`);
  };
  socket.on('data', (chunk: string) => {
    if (answered) return;
    buffered += chunk;
    const nl = buffered.indexOf('\n');
    if (nl < 0 && Buffer.byteLength(buffered) <= MAX_REQUEST_BYTES) return;
    if (nl < 0 || nl > MAX_REQUEST_BYTES)
      return reply({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` });
    const req = parseRequest(buffered.slice(0, nl));
    if (!req.ok) return reply(req);
    logger.info({ command: req.command }, 'control command');
    handle(req.command).then(reply, (err: unknown) =>
      reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}
