import pino from 'pino';
import { AgentStopError } from '../errors';
import { checkJobIsolation, JobUserPool, resolveJobUsers, type AgentIdentity, type JobUser } from './job-users';
import { launch } from './step-process';

const ALL_CAPS = 0xebn | (1n << 19n);
const nobody: JobUser = { name: 'nobody', uid: 65_534, gid: 65_534 };
const root: AgentIdentity = { uid: 0, capEff: (1n << 41n) - 1n };

function check(users: JobUser[], self: AgentIdentity, allowRoot = false, setpriv: string | null = '/usr/bin/setpriv') {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => warnings.push(JSON.parse(l).msg as string) });
  const run = (): void => checkJobIsolation(users, self, allowRoot, logger, setpriv ?? undefined);
  return { run, warnings };
}

describe('checkJobIsolation', () => {
  it('refuses steps as root: a root agent without job users, or a job user of uid or gid 0', () => {
    expect(check([], root).run).toThrow(/the agent runs as root and JR_JOB_USER is not set/);
    expect(check([{ name: 'root', uid: 0, gid: 0 }], root).run).toThrow(/root is uid or gid 0/);
    expect(check([{ name: 'wheelish', uid: 5, gid: 0 }], root).run).toThrow(/wheelish is uid or gid 0/);
    try {
      check([], root).run();
    } catch (err) {
      expect(err).toBeInstanceOf(AgentStopError);
      expect((err as AgentStopError).exitCode).toBe(78);
    }
  });

  it('accepts root jobs with JR_ALLOW_ROOT_JOBS=1, with a warning', () => {
    const c = check([], root, true);
    expect(c.run).not.toThrow();
    expect(c.warnings).toEqual([expect.stringMatching(/JR_ALLOW_ROOT_JOBS=1: job steps run as root/)]);
  });

  it('needs the capabilities and setpriv when the agent is not root', () => {
    const agent = (capEff: bigint): AgentIdentity => ({ uid: 990, capEff });
    expect(check([nobody], agent(0n)).run).toThrow(/needs root or CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL/);
    expect(check([nobody], agent(1n << 7n)).run).toThrow(/CAP_SETGID(?!, CAP_SETUID)/);
    expect(check([nobody], agent(ALL_CAPS), false, null).run).toThrow(/needs setpriv/);
    expect(check([nobody], agent(ALL_CAPS)).run).not.toThrow();
  });

  it('warns when steps run as the agent itself', () => {
    const c = check([], { uid: 990, capEff: 0n });
    c.run();
    expect(c.warnings).toEqual([expect.stringMatching(/run as the agent's own user/)]);
  });
});

describe('resolveJobUsers', () => {
  it('resolves names and uids through the user database, and stops on an unknown name', async () => {
    await expect(
      resolveJobUsers([
        { kind: 'name', name: 'nobody' },
        { kind: 'id', uid: 0, gid: undefined },
      ]),
    ).resolves.toEqual([nobody, { name: 'root', uid: 0, gid: 0 }]);
    await expect(resolveJobUsers([{ kind: 'id', uid: 4_242_424, gid: 7 }])).resolves.toEqual([
      { name: '4242424', uid: 4_242_424, gid: 7 },
    ]);
    await expect(resolveJobUsers([{ kind: 'name', name: 'no-such-user-xyz' }])).rejects.toThrow(
      /no user named "no-such-user-xyz"/,
    );
  });
});

describe('JobUserPool', () => {
  it('hands out a free user per attempt, the least busy one when all are taken, and takes them back', () => {
    const users = ['a', 'b'].map((name, i) => ({ name, uid: 100 + i, gid: 100 + i }));
    const pool = new JobUserPool(users);
    const one = pool.acquire();
    const two = pool.acquire();
    expect([one.user?.name, two.user?.name, one.shared, two.shared]).toEqual(['a', 'b', false, false]);
    const three = pool.acquire();
    expect(three.shared).toBe(true);
    one.release();
    one.release();
    three.release();
    expect(pool.acquire()).toMatchObject({ user: { name: 'a' }, shared: false });
    expect(new JobUserPool([]).acquire().user).toBeUndefined();
  });
});

describe('launch', () => {
  it('lets spawn change the ids under a root agent, and goes through setpriv (capabilities cleared) otherwise', () => {
    expect(launch('/bin/sh', ['-c', 'x'], undefined)).toEqual(['/bin/sh', ['-c', 'x'], {}]);
    expect(launch('/bin/sh', ['-c', 'x'], { uid: 5, gid: 6 })).toEqual(['/bin/sh', ['-c', 'x'], { uid: 5, gid: 6 }]);
    expect(launch('make', ['all'], { uid: 5, gid: 6, setpriv: '/usr/bin/setpriv' })).toEqual([
      '/usr/bin/setpriv',
      ['--reuid', '5', '--regid', '6', '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--', 'make', 'all'],
      {},
    ]);
  });
});
