/**
 * A step's environment: the agent's (secrets removed by config), the job's, the job's secrets (from
 * the lease, in memory only), then jobrunner's own.
 */
export function buildStepEnv(
  childEnv: Record<string, string>,
  jobEnv: Record<string, string>,
  ids: { jobId: string; attempt: number; artifactsDir?: string },
  secrets: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...childEnv };
  for (const [k, v] of [...Object.entries(jobEnv), ...Object.entries(secrets)]) {
    // The API validates names; the agent still refuses what execve cannot carry.
    if (k.length > 0 && !k.includes('=') && !k.includes('\0') && !v.includes('\0')) env[k] = v;
  }
  env.JR_JOB_ID = ids.jobId;
  env.JR_ATTEMPT = String(ids.attempt);
  if (ids.artifactsDir !== undefined) env.JR_ARTIFACTS_DIR = ids.artifactsDir;
  return env;
}
