/** Who the steps run as and where their private directories are (see workspace.ts). */
export interface StepIdentity {
  /** USER and LOGNAME. */
  userName: string;
  /** HOME: the attempt's work directory (fresh, private, removed after the attempt). */
  home: string;
  tmpDir: string;
}

/**
 * A step's environment: the allow-listed part of the agent's (config/child-env.ts), the job user's
 * HOME, USER, LOGNAME and TMPDIR, the job's own env, its secrets (from the lease, in memory only), then
 * jobrunner's JR_JOB_ID and JR_ATTEMPT.
 */
export function buildStepEnv(
  childEnv: Record<string, string>,
  jobEnv: Record<string, string>,
  ids: { jobId: string; attempt: number; artifactsDir?: string; identity?: StepIdentity },
  secrets: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...childEnv };
  if (ids.identity) {
    env.HOME = ids.identity.home;
    env.USER = ids.identity.userName;
    env.LOGNAME = ids.identity.userName;
    env.TMPDIR = ids.identity.tmpDir;
  }
  for (const [k, v] of [...Object.entries(jobEnv), ...Object.entries(secrets)]) {
    // The API validates names; the agent still refuses what execve cannot carry.
    if (k.length > 0 && !k.includes('=') && !k.includes('\0') && !v.includes('\0')) env[k] = v;
  }
  env.JR_JOB_ID = ids.jobId;
  env.JR_ATTEMPT = String(ids.attempt);
  if (ids.artifactsDir !== undefined) env.JR_ARTIFACTS_DIR = ids.artifactsDir;
  return env;
}
