import type { SubmitAnswer } from './api-schemas';
import type { Context } from './context';
import { clean, say } from './output';

/** The glance after a submit is bounded: it must never hold the user up nor change the outcome. */
const PEEK_TIMEOUT_MS = 2_000;

/**
 * After `jr submit`: fetches the job once and, when the API says it cannot be placed (no active agent
 * of its pool has its labels), warns on stderr at once. Any failure of the glance is ignored: the
 * submit succeeded, and stdout and the exit code stay what they are.
 */
export async function warnIfUnplaceable(ctx: Context, submitted: SubmitAnswer): Promise<void> {
  if (submitted.state !== 'queued') return;
  try {
    const job = await ctx.api().peekJob(submitted.id, PEEK_TIMEOUT_MS);
    if (job.waiting) say(ctx.io, `warning: job ${clean(job.id)} waiting: ${clean(job.waiting.message, 300)}`);
  } catch {
    // not visible yet, or the API is slow: the warning is a courtesy, never an error
  }
}
