import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { isTerminal } from '@jr/contracts';
import { fleetSpecSchema, type AmountAnswer, type FleetSpecAnswer, type JobAnswer } from '../api-schemas';
import { CliError, UsageError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { validateDocument, type JobDocument } from '../job-document';
import { parseDurationFlag, parseId } from '../options';
import { clean, printJson, say } from '../output';
import { signDocumentIfKeyed } from './submit.command';
import { runWait } from './wait.command';

interface RetryOptions {
  failed?: boolean;
  remaining?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

/** The target states each selection retries. */
export const RETRY_SELECTIONS = {
  /** ran and did not succeed */
  failed: ['failed', 'timed_out', 'cancelled'],
  /** never ran */
  remaining: ['pending', 'skipped', 'undelivered'],
} as const satisfies Record<string, readonly string[]>;

type Selection = keyof typeof RETRY_SELECTIONS;

/** After a submit the job may take a moment to be visible to GET (as for jr submit --wait). */
const NOT_FOUND_GRACE_MS = 30_000;

export function registerRetry(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('retry')
    .description(
      'start a new fleet job with the job and rollout of fleet job ID over its targets that failed ' +
        '(--failed: failed, timed_out, cancelled) or never ran (--remaining: pending, skipped, undelivered); ' +
        'prints the new job id (exit 0 and nothing submitted when no target is in those states)',
    )
    .argument('<id>', 'fleet job id', parseId)
    .option('--failed', 'the targets that failed, timed out or were cancelled')
    .option('--remaining', 'the targets that never ran (pending, skipped, undelivered); only once the job ended')
    .option('--wait', 'wait for the new job to end, with its progress on stderr; exit with its outcome')
    .option('--wait-timeout <duration>', 'with --wait: stop waiting after this long (exit 7)', parseDurationFlag)
    .option('--json', 'print {id, state, targets} (with --wait: the final job) as one JSON document')
    .action(async (id: string, opts: RetryOptions) => setExit(await retry(ctx, id, opts)));
}

async function retry(ctx: Context, id: string, opts: RetryOptions): Promise<number> {
  const selection = selectionOf(opts);
  const api = ctx.api();
  const job = await api.getJob(id);
  if (!job.targets)
    throw new UsageError(`job ${clean(id)} is not a fleet job: jr retry starts a fleet job over some of its targets`);
  if (selection === 'remaining' && !isTerminal(job.state))
    throw new UsageError(
      `job ${clean(id)} is ${clean(job.state)}: its pending targets may still run; retry --remaining once it ended (jr wait ${clean(id)}, or jr cancel ${clean(id)} first)`,
    );
  const states: readonly string[] = RETRY_SELECTIONS[selection];
  const agents = (await api.allTargets(id)).filter((t) => states.includes(t.state)).map((t) => t.agentId);
  if (agents.length === 0) {
    say(ctx.io, `nothing to retry: no target is ${states.join('/')}`);
    return EXIT.OK;
  }
  const doc = retryDocument(specOf(job), agents);
  const body = validateDocument(signDocumentIfKeyed(ctx, doc, { quiet: opts.json }));
  const { value } = await api.submit(body, `jr-cli-${randomUUID()}`);
  say(
    ctx.io,
    `submitted ${clean(value.id)} (${clean(value.state)}): ${agents.length} ${selection} targets of ${clean(id)}`,
  );
  if (opts.wait) {
    if (!opts.json) ctx.io.stdout.write(`${value.id}\n`);
    const waitOptions = { timeoutMs: opts.waitTimeout, notFoundGraceMs: NOT_FOUND_GRACE_MS, reachable: true };
    return runWait(ctx, value.id, waitOptions, { json: opts.json ?? false, quiet: false, fleet: true });
  }
  if (opts.json) printJson(ctx.io, { id: value.id, state: value.state, targets: agents.length });
  else ctx.io.stdout.write(`${value.id}\n`);
  return EXIT.OK;
}

function selectionOf(opts: RetryOptions): Selection {
  if (opts.failed && opts.remaining)
    throw new UsageError('--failed or --remaining, not both (retry the failed ones, then the rest)');
  if (opts.failed) return 'failed';
  if (opts.remaining) return 'remaining';
  throw new UsageError('say which targets: --failed (failed, timed_out, cancelled) or --remaining (never ran)');
}

/** The fleet job's normalized spec, checked enough to rebuild a document; a job with secrets cannot be. */
function specOf(job: JobAnswer): FleetSpecAnswer {
  const parsed = fleetSpecSchema.safeParse(job.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 'spec'}: ${issue.message}` : 'spec';
    throw new CliError(
      EXIT.BAD_ANSWER,
      `the API's view of job ${clean(job.id)} has no job to retry (${clean(where, 200)})`,
    );
  }
  const secrets = parsed.data.secrets;
  if (secrets.length > 0)
    throw new UsageError(
      `job ${clean(job.id)} has secrets (${clean(secrets.join(', '), 200)}) and only their names are kept, so jr retry cannot re-send them: ` +
        `resubmit it with the values, jr submit -f job.yaml --secret NAME… with targets.agents in the file (jr status ${clean(job.id)} --json lists the targets)`,
    );
  return parsed.data;
}

/**
 * The job document of a retry: the original job rebuilt from its normalized spec (durations as seconds),
 * over exactly `agents` (ids) in the original pool, with the original rollout. The signature is not
 * copied (it covers the original document); JR_JOB_SIGNING_KEY signs the new one.
 */
export function retryDocument(spec: FleetSpecAnswer, agents: readonly string[]): JobDocument {
  const { targets, rollout } = spec.fleet;
  return {
    ...(spec.name !== '' ? { name: spec.name } : {}),
    ...(spec.pool === targets.pool ? { pool: spec.pool } : {}),
    ...(spec.timeoutMs > 0 ? { timeout: durationText(spec.timeoutMs) } : {}),
    ...(spec.retries > 0 ? { retries: spec.retries } : {}),
    ...(Object.keys(spec.env).length > 0 ? { env: { ...spec.env } } : {}),
    ...(spec.uses.length > 0 ? { uses: spec.uses.map((u) => ({ url: u.url, sha256: u.sha256 })) } : {}),
    steps: spec.steps.map((s) => ({
      name: s.name,
      run: s.run,
      ...(s.timeoutMs > 0 ? { timeout: durationText(s.timeoutMs) } : {}),
      ...(s.retries > 0 ? { retries: s.retries } : {}),
    })),
    ...(spec.atMostOnce ? { atMostOnce: true } : {}),
    targets: { pool: targets.pool, agents: [...agents] },
    rollout: {
      batch: amountDocument(rollout.batch),
      mode: rollout.mode,
      maxFailures: amountDocument(rollout.maxFailures),
      minSample: rollout.minSample,
      deliveryTimeout: durationText(rollout.deliveryTimeoutMs),
      pause: durationText(rollout.pauseMs),
      undeliveredCountsAsFailure: rollout.undeliveredCountsAsFailure,
      ...(rollout.successCriteria
        ? { successCriteria: { minSucceeded: amountDocument(rollout.successCriteria.minSucceeded) } }
        : {}),
    },
  };
}

/** A normalized Amount as a document writes it: a count as a number, a percent as "25%". */
export function amountDocument(amount: AmountAnswer): number | string {
  return amount.kind === 'count' ? amount.n : `${amount.p}%`;
}

/** Milliseconds as a document duration: "600s", or "1500ms" when not whole seconds. */
export function durationText(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}
