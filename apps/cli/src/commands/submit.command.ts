import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, type Command } from 'commander';
import { parseDurationMs } from '@jr/contracts';
import { ApiError, UsageError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import {
  documentFromCommand,
  documentFromFile,
  validateDocument,
  type JobDocument,
  type JobFlags,
} from '../job-document';
import { addFleetOptions, fleetFlagsOf, type FleetOptions } from '../fleet-flags';
import { readJobFile } from '../job-file';
import { DEFAULT_SIGN_TTL_MS, loadSigningKey, MAX_SIGN_TTL_MS, signDocument } from '../job-signing';
import {
  collect,
  parseDurationFlag,
  parseEnv,
  parseIdempotencyKey,
  parseLabel,
  parsePool,
  parseRetries,
  parseTimeoutFlag,
  type Pair,
} from '../options';
import { clean, printJson, say } from '../output';
import {
  collectSecret,
  parseSecretFileFlag,
  parseSecretFlag,
  resolveSecretFlags,
  type SecretFileFlag,
  type SecretFlag,
} from '../secret-flags';
import { warnIfUnplaceable } from '../placement-warning';
import { runWait } from './wait.command';

interface SubmitOptions extends FleetOptions {
  file?: string;
  shell?: string;
  name?: string;
  pool?: string;
  label?: Pair[];
  timeout?: string;
  retries?: number;
  env?: Pair[];
  secret?: SecretFlag[];
  secretFile?: SecretFileFlag[];
  idempotencyKey?: string;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
  quiet?: boolean;
  /** false with --no-sign */
  sign?: boolean;
  signTtl?: number;
}

/** After a submit the job may take a moment to be visible to GET (the API applies its journal). */
const NOT_FOUND_GRACE_MS = 30_000;

export function registerSubmit(program: Command, ctx: Context, setExit: SetExit): void {
  const cmd = program
    .command('submit')
    .summary('submit a job')
    .description(
      'Submit a job. `jr submit [flags] -- CMD ARG…` runs CMD with its arguments directly (argv, no shell), ' +
        'even when a single argument contains spaces; use --shell "string" for a shell command line.\n\n' +
        '`jr submit -f job.yaml` submits a job file (YAML; JSON if it ends in .json; - reads standard input); ' +
        'flags given with it override the file (labels and env are merged).\n\n' +
        'Flags go before the command: everything from the first non-flag word on belongs to the command.\n\n' +
        'A fleet job runs once on every target agent of the pool: --target k=v (repeatable), --target-agent NAME|ID ' +
        '(repeatable) or --all, with --batch, --rollout, --max-failures, --min-sample, --delivery-timeout and --pause ' +
        '(or targets and rollout in the job file).',
    )
    .argument('[command...]', 'the program and its arguments')
    .option('-f, --file <path>', 'job file: YAML, JSON if it ends in .json, - for standard input')
    .option('--shell <script>', 'run this string with /bin/sh -c instead of a command')
    .option('--name <name>', 'job name')
    .option('--pool <pool>', 'pool of agents to run on (default: default)', parsePool)
    .option('--label <k=v>', 'agent label the job needs (repeatable)', collect(parseLabel))
    .option('--timeout <duration>', 'job timeout: 90s, 5m, 1h', parseTimeoutFlag)
    .option('--retries <n>', 're-runs after a failed attempt (0-10)', parseRetries)
    .option('--env <K=V>', 'environment variable for the steps (repeatable)', collect(parseEnv))
    .option(
      '--secret <NAME[=VALUE]>',
      'secret for the steps, write-only and masked in the output (repeatable); NAME alone takes the value from this environment',
      collectSecret(parseSecretFlag),
    )
    .option(
      '--secret-file <NAME=PATH>',
      'secret read from a file, without one trailing newline (repeatable)',
      collectSecret(parseSecretFileFlag),
    )
    .option('--idempotency-key <key>', 'submitting again with the same key answers the same job', parseIdempotencyKey)
    .option(
      '--wait',
      'wait for the job to end, printing its output on stdout (a fleet job: its progress) and its outcome on stderr; exit with the outcome',
    )
    .option('--wait-timeout <duration>', 'with --wait: stop waiting after this long (exit 7)', parseDurationFlag)
    .option(
      '--json',
      'print one JSON document on stdout: {id,state}, or the final job with --wait (and not the output)',
    )
    .option('-q, --quiet', 'with --wait: wait silently (only the id on stdout, and the exit code)')
    .option('--no-sign', 'do not sign the job even though JR_JOB_SIGNING_KEY is set (a signature in the file is kept)')
    .option(
      '--sign-ttl <duration>',
      'with JR_JOB_SIGNING_KEY: how long the signature is valid (default 24h, at most 30d)',
      parseSignTtl,
    );
  addFleetOptions(cmd)
    .passThroughOptions()
    .action(async (command: string[], opts: SubmitOptions) => setExit(await submit(ctx, command, opts)));
}

async function submit(ctx: Context, command: string[], opts: SubmitOptions): Promise<number> {
  const doc = await buildDocument(ctx, command, opts);
  const body = validateDocument(signDocumentIfKeyed(ctx, doc, opts));
  const api = ctx.api();
  // without --idempotency-key the run makes one: its retries (another endpoint, a lost answer) are the same job
  const key = opts.idempotencyKey ?? `jr-cli-${randomUUID()}`;
  const answer = await api.submit(body, key).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 409) throw new ApiError(EXIT.USAGE, err.message, 409, err.problem);
    throw err;
  });
  const { id, state } = answer.value;
  const again =
    answer.status === 200 && opts.idempotencyKey !== undefined ? ' (already submitted with this idempotency key)' : '';
  const quiet = (opts.quiet ?? false) && opts.wait === true;
  if (!quiet) say(ctx.io, `submitted ${clean(id)} (${clean(state)})${again}`);
  await warnIfUnplaceable(ctx, answer.value);
  if (!opts.wait) {
    if (opts.json) printJson(ctx.io, answer.value);
    else ctx.io.stdout.write(`${id}\n`);
    return EXIT.OK;
  }
  // with --wait stdout carries the job's output (the id is on stderr above); --quiet: only the id
  if (quiet && !opts.json) ctx.io.stdout.write(`${id}\n`);
  const waitOptions = { timeoutMs: opts.waitTimeout, notFoundGraceMs: NOT_FOUND_GRACE_MS, reachable: true };
  return runWait(ctx, id, waitOptions, { json: opts.json ?? false, quiet, fleet: doc.targets !== undefined });
}

/** With JR_JOB_SIGNING_KEY (and not --no-sign): the document signed, valid for --sign-ttl (also for jr retry). */
export function signDocumentIfKeyed(
  ctx: Context,
  doc: JobDocument,
  opts: { sign?: boolean; signTtl?: number; quiet?: boolean },
): JobDocument {
  if (opts.sign === false) return doc;
  const key = loadSigningKey(ctx.io);
  if (!key) {
    if (opts.signTtl !== undefined) throw new UsageError('--sign-ttl needs JR_JOB_SIGNING_KEY (the key to sign with)');
    return doc;
  }
  const notAfterMs = ctx.clock.now() + (opts.signTtl ?? DEFAULT_SIGN_TTL_MS);
  const signed = signDocument(doc, key, notAfterMs);
  if (!opts.quiet) say(ctx.io, `signing with key ${key.keyId}, valid until ${new Date(notAfterMs).toISOString()}`);
  return signed;
}

function parseSignTtl(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0 || ms > MAX_SIGN_TTL_MS)
    throw new InvalidArgumentError('expected a duration such as 1h or 24h (at most 30d).');
  return ms;
}

async function buildDocument(ctx: Context, command: string[], opts: SubmitOptions): Promise<JobDocument> {
  const flags: JobFlags = {
    name: opts.name,
    pool: opts.pool,
    labels: opts.label,
    timeout: opts.timeout,
    retries: opts.retries,
    env: opts.env,
    secrets: await resolveSecretFlags(opts, ctx.io.env, (names) =>
      say(
        ctx.io,
        `note: --secret ${names.join(', ')} with =VALUE puts the value in ps and shell history; prefer --secret NAME (from the environment) or --secret-file`,
      ),
    ),
    shell: opts.shell,
    fleet: fleetFlagsOf(opts),
  };
  if (opts.file === undefined) {
    const only = command.length === 1 ? command[0] : undefined;
    if (only !== undefined && /\s/.test(only)) {
      say(
        ctx.io,
        `note: running ${JSON.stringify(clean(only))} as one program name (argv, no shell); use --shell to run a command line`,
      );
    }
    return documentFromCommand(command, flags);
  }
  if (command.length > 0) throw new UsageError('give either -f job.yaml or a command, not both');
  return documentFromFile(await readJobFile(opts.file, ctx.io.stdin), flags);
}
