import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { AgentNotRunningError, sendControlCommand } from './control-client';
import { runControlCommand } from './control-command';
import { controlSocketPath, parseRequest, type ControlCommand } from './control-protocol';
import { ControlServer } from './control-server';

const logger = pino({ level: 'silent' });

/** Sends raw bytes and returns everything the server answered before closing. */
function raw(socketPath: string, data: string | Buffer, end = false): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('error', () => resolve(text));
    s.on('close', () => resolve(text));
    s.once('connect', () => (end ? s.end(data) : s.write(data)));
  });
}

describe('control socket', () => {
  let dir: string;
  let server: ControlServer | undefined;
  const seen: ControlCommand[] = [];
  const handler = async (command: ControlCommand) => {
    seen.push(command);
    return command === 'reporting.enable'
      ? {
          ok: true as const,
          wasOpen: true,
          reporting: { breaker: { state: 'closed' }, outbox: { depth: 3, oldestAgeMs: 4_000, bytes: 10, gapBytes: 0 } },
        }
      : { ok: true as const, state: 'fine' };
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jr-ctl-'));
    seen.length = 0;
    server = await ControlServer.start(controlSocketPath(dir), handler, logger, 300);
  });
  afterEach(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers commands, one JSON line each, on a socket only its owner may use (0600)', async () => {
    await expect(sendControlCommand(controlSocketPath(dir), 'reporting.status')).resolves.toEqual({
      ok: true,
      state: 'fine',
    });
    await expect(sendControlCommand(controlSocketPath(dir), 'reporting.enable')).resolves.toMatchObject({
      ok: true,
      wasOpen: true,
    });
    expect(seen).toEqual(['reporting.status', 'reporting.enable']);
    expect((await stat(controlSocketPath(dir))).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['not JSON', 'enable please\n', /not JSON/],
    ['an array', '["reporting.enable"]\n', /JSON object/],
    ['extra keys', '{"command":"reporting.enable","force":true}\n', /must be \{"command"/],
    ['an unknown command', '{"command":"shutdown"}\n', /unknown command "shutdown"/],
    ['a prototype key', '{"__proto__":{"command":"reporting.enable"}}\n', /must be \{"command"/],
    ['a request over 1 KiB', `${'x'.repeat(5_000)}\n`, /longer than 1024 bytes/],
    ['a request without a newline that keeps growing', 'y'.repeat(2_000), /longer than 1024 bytes/],
  ])('refuses %s without running anything', async (_what, data, error) => {
    const answer = JSON.parse(await raw(controlSocketPath(dir), data)) as { ok: boolean; error: string };
    expect(answer.ok).toBe(false);
    expect(answer.error).toMatch(error);
    expect(seen).toEqual([]);
  });

  it('hangs up on a client that sends nothing', async () => {
    const answer = JSON.parse(await raw(controlSocketPath(dir), '')) as { ok: boolean; error: string };
    expect(answer).toEqual({ ok: false, error: 'no request in time' });
  });

  it('replaces a stale socket file, but refuses to start next to a live agent or a non-socket', async () => {
    await expect(ControlServer.start(controlSocketPath(dir), handler, logger)).rejects.toMatchObject({
      name: 'AgentStopError',
      reason: 'data_dir_in_use',
    });
    await server?.close();
    // A crashed agent leaves its socket file behind: a process that listens, then dies by SIGKILL.
    const crash = `require('net').createServer().listen(${JSON.stringify(controlSocketPath(dir))}, () => process.kill(process.pid, 'SIGKILL'))`;
    expect(spawnSync(process.execPath, ['-e', crash]).signal).toBe('SIGKILL');
    expect((await stat(controlSocketPath(dir))).isSocket()).toBe(true);
    server = await ControlServer.start(controlSocketPath(dir), handler, logger);
    await expect(sendControlCommand(controlSocketPath(dir), 'reporting.status')).resolves.toMatchObject({ ok: true });
    await server?.close();
    await writeFile(controlSocketPath(dir), 'not a socket');
    await expect(ControlServer.start(controlSocketPath(dir), handler, logger)).rejects.toThrow(/not a socket/);
    server = undefined;
  });

  it('skips the socket (with a warning) when the path is too long for one', async () => {
    const long = path.join(dir, 'd'.repeat(120), 'control.sock');
    await expect(ControlServer.start(long, handler, logger)).resolves.toBeUndefined();
  });

  it('tells when no agent is running', async () => {
    await server?.close();
    server = undefined;
    await expect(sendControlCommand(controlSocketPath(dir), 'reporting.enable')).rejects.toBeInstanceOf(
      AgentNotRunningError,
    );
  });

  describe('jr-agent reporting enable|status', () => {
    const io = () => {
      const out: string[] = [];
      const err: string[] = [];
      return {
        out,
        err,
        o: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
      };
    };

    it('prints what happened (0), or one JSON document with --json', async () => {
      const a = io();
      await expect(runControlCommand(dir, 'enable', { json: false, ...a.o })).resolves.toBe(0);
      expect(a.out.join('')).toMatch(
        /^reporting re-enabled: the outbox drains in order\nbreaker: closed\noutbox: 3 queued, oldest 4s/,
      );
      const b = io();
      await expect(runControlCommand(dir, 'status', { json: true, ...b.o })).resolves.toBe(0);
      expect(JSON.parse(b.out.join(''))).toEqual({ ok: true, state: 'fine' });
      expect(b.err).toEqual([]);
    });

    it('exits 69 with one line when no agent runs there', async () => {
      await server?.close();
      server = undefined;
      const a = io();
      await expect(runControlCommand(dir, 'enable', { json: false, ...a.o })).resolves.toBe(69);
      expect(a.err).toEqual([expect.stringMatching(/^jr-agent: no jr-agent is running with this JR_DATA_DIR .*\n$/)]);
      expect(a.out).toEqual([]);
    });
  });

  it('parses requests strictly', () => {
    expect(parseRequest('{"command":"reporting.status"}')).toEqual({ ok: true, command: 'reporting.status' });
    expect(parseRequest('{"command":7}').ok).toBe(false);
    expect(parseRequest('null').ok).toBe(false);
  });
});
