import { chmod, lstat, mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config';
import { AgentStopError } from '../errors';
import { agentIdentity, checkJobIsolation, findSetpriv, JobUserPool, resolveJobUsers } from './job-users';
import { prepareWorkRoot, unreachableBy } from './workspace';

/**
 * Start-up of job isolation, before anything else: steps would not run as root (exit 78 unless
 * JR_ALLOW_ROOT_JOBS=1), the job users exist and can reach JR_WORK_DIR, and the data directory is
 * 0700 (the credential, outbox and cache are the agent's alone).
 */
export async function prepareIsolation(config: AgentConfig, logger: Logger): Promise<JobUserPool> {
  const self = await agentIdentity();
  const setpriv = self.uid === 0 ? undefined : findSetpriv(config.childEnv.PATH);
  const users = (await resolveJobUsers(config.jobUsers)).map((u) =>
    setpriv !== undefined && u.uid !== self.uid ? { ...u, setpriv } : u,
  );
  checkJobIsolation(users, self, config.allowRootJobs, logger, setpriv);
  await secureDataDir(config.dataDir, logger);
  await prepareWorkRoot(config.workDir);
  for (const user of users) {
    const why = await unreachableBy(config.workDir, user);
    if (why !== undefined) throw new AgentStopError('job_user_unusable', `${why}: set JR_WORK_DIR elsewhere`);
  }
  if (users.length > 0)
    logger.info(
      { jobUsers: users.map((u) => `${u.name}(${u.uid}:${u.gid})`), workDir: config.workDir },
      'job steps run as unprivileged users',
    );
  return new JobUserPool(users);
}

async function secureDataDir(dir: string, logger: Logger): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s = await lstat(dir);
  if (!s.isDirectory()) throw new AgentStopError('state_unreadable', `JR_DATA_DIR ${dir} is not a directory`);
  if ((s.mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    logger.warn({ dir, was: (s.mode & 0o777).toString(8) }, 'the data directory was open to others; made it 0700');
  }
}
