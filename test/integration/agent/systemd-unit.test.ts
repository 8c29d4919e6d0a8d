import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MissingBinaryError, REPO_ROOT } from '@jr/testing';
import { parseAgentConfig } from '../../../apps/agent/src/config/agent-config';

const dir = path.join(REPO_ROOT, 'infra/systemd');
const unit = readFileSync(path.join(dir, 'jr-agent.service'), 'utf8');

/** key=value lines of one section of the unit. */
function section(name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) current = line;
    else if (current === `[${name}]` && line && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
    }
  }
  return out;
}

/** Set to 1 where systemd-analyze cannot be had: the verify test is then reported as not run, with the reason. */
const OPT_OUT = 'JR_TEST_NO_SYSTEMD_ANALYZE';

/**
 * `systemd-analyze` must be there for the verify test: when missing and running as root it is
 * installed (Debian's `systemd` package, as libs/testing does for Prometheus), serialised by a lock
 * file so parallel workers do not fight over dpkg. Returns why it is missing, undefined when it is there.
 */
function missingSystemdAnalyze(): string | undefined {
  const found = (): boolean => spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
  if (found()) return undefined;
  if (process.getuid?.() === 0) {
    const script =
      'command -v systemd-analyze >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd; }';
    try {
      execFileSync('flock', [path.join(os.tmpdir(), 'jr-apt.lock'), 'sh', '-c', script], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch {
      // reported below
    }
    if (found()) return undefined;
  }
  return new MissingBinaryError(
    'systemd-analyze',
    `install Debian's systemd package (sudo apt-get install systemd), or set ${OPT_OUT}=1 to run without this check`,
  ).message;
}

const missingTool = missingSystemdAnalyze();

describe('infra/systemd/jr-agent.service', () => {
  const service = section('Service');
  const one = (key: string): string | undefined => service.get(key)?.[0];

  it('runs hardened, as a dedicated user, without privileges', () => {
    expect(one('User')).toBe('jr-agent');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('StateDirectoryMode')).toBe('0700');
    expect(readFileSync(path.join(dir, 'jr-agent.sysusers.conf'), 'utf8')).toMatch(/^u jr-agent - /m);
  });

  it('holds only the capabilities that running steps as job users takes; filters syscalls, the network and memory', () => {
    const caps = 'CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_SYS_PTRACE';
    expect(one('AmbientCapabilities')).toBe(caps);
    expect(one('CapabilityBoundingSet')).toBe(caps);
    expect(one('SystemCallFilter')).toBe('@system-service');
    expect(one('IPAddressDeny')).toBe('any');
    expect(one('IPAddressAllow')).toBe('localhost');
    expect(one('MemoryMax')).toMatch(/^\d+[KMGT]$/);
    expect(one('ProtectProc')).toBe('invisible');
    expect(one('StateDirectory')).toBe('jr-agent jr-agent-work');
    expect(one('LoadCredential')).toBe('enroll-token:/etc/jobrunner/enroll-token');
    expect(service.get('Environment')).toEqual([
      'JR_DATA_DIR=/var/lib/jr-agent',
      'JR_WORK_DIR=/var/lib/jr-agent-work',
      'JR_ENROLL_TOKEN_FILE=%d/enroll-token',
    ]);
    const sysusers = readFileSync(path.join(dir, 'jr-agent.sysusers.conf'), 'utf8');
    for (const n of [1, 2, 3, 4]) expect(sysusers).toMatch(new RegExp(`^u jr-job${n} - .* /usr/sbin/nologin$`, 'm'));
  });

  it('stops gracefully and leaves no job behind; restarts crashes but not exits that need an operator', () => {
    // mixed: SIGTERM to the agent (it drains its jobs), then SIGKILL to anything left in the cgroup.
    expect(one('KillMode')).toBe('mixed');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('SendSIGKILL')).toBe('yes');
    const stopSec = Number(/^(\d+)/.exec(one('TimeoutStopSec') ?? '')?.[1]);
    expect(stopSec).toBeGreaterThan(30 + 10 + 10);
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')?.split(' ').sort()).toEqual(['2', '76', '77', '78']);
    expect(one('Environment')).toBe('JR_DATA_DIR=/var/lib/jr-agent');
  });

  it('ships an env file example the agent accepts, with no secret filled in', () => {
    const text = readFileSync(path.join(dir, 'jr-agent.env.example'), 'utf8');
    const env: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) env[m[1] as string] = m[2] as string;
    }
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'JR_API_GRPC',
        'JR_ENROLL_TOKEN',
        'JR_POOL',
        'JR_SLOTS',
        'JR_HEARTBEAT_INTERVAL',
        'JR_BREAKER_THRESHOLD',
      ]),
    );
    expect(env.JR_ENROLL_TOKEN).toBe('');
    // As the unit starts it: its Environment= lines beside the file.
    const parsed = parseAgentConfig({
      ...env,
      JR_DATA_DIR: '/var/lib/jr-agent',
      JR_WORK_DIR: '/var/lib/jr-agent-work',
      JR_ENROLL_TOKEN_FILE: '/run/credentials/jr-agent.service/enroll-token',
    });
    expect(parsed.ok ? [] : parsed.issues).toEqual([]);
    expect(parsed.ok && parsed.config.jobUsers).toHaveLength(Number(env.JR_SLOTS));
  });

  // Without the tool this fails with the reason, unless opted out: then its name in the report says it did not run.
  if (missingTool !== undefined && process.env[OPT_OUT] === '1') {
    it(`passes \`systemd-analyze verify\` — NOT RUN (${OPT_OUT}=1): ${missingTool}`, () => {
      expect(spawnSync('systemd-analyze', ['--version']).status).not.toBe(0);
    });
    return;
  }
  it('passes `systemd-analyze verify`', () => {
    if (missingTool !== undefined) throw new Error(missingTool);
    // ExecStart's binary must exist where verify runs: point it at this node for the check.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'jr-unit-'));
    try {
      const file = path.join(tmp, 'jr-agent.service');
      writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      // verify exits 0 on unknown keys but names them on stderr: any line about our unit is a failure.
      expect({
        status: r.status,
        complaints: r.stderr.split('\n').filter((l) => l.includes('jr-agent.service')),
      }).toEqual({ status: 0, complaints: [] });
      // The exposure the README records (systemd 252); hardening may lower it, nothing may raise it.
      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', file], { encoding: 'utf8' });
      const exposure = Number(/Overall exposure level for jr-agent\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
      expect(exposure).toBeLessThanOrEqual(2.4);
      expect(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain(`exposure ${exposure.toFixed(1)}`);
      const broken = path.join(tmp, 'broken.service');
      writeFileSync(broken, unit.replace('NoNewPrivileges=yes', 'NoNewPrivilegs=yes'));
      expect(spawnSync('systemd-analyze', ['verify', '--man=no', broken], { encoding: 'utf8' }).stderr).toContain(
        "Unknown key 'NoNewPrivilegs'",
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
