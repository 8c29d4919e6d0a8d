import { Option, type Command } from 'commander';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import type { JobFlags } from '../job-document';
import { readJobFile } from '../job-file';
import { collect, parseEnv, parseLabel, parsePool, parseRetries, parseTimeoutFlag, type Pair } from '../options';
import { clean, printJson, say, timestamp } from '../output';
import {
  buildScheduleDocument,
  CATCHUP_POLICIES,
  OVERLAP_POLICIES,
  parseCatchupWindow,
  parseScheduleRef,
  validateScheduleDocument,
  type ScheduleFlags,
} from '../schedule-document';
import { SchedulesApi, type ScheduleAnswer } from '../schedules-api';
import {
  collectSecret,
  parseSecretFileFlag,
  parseSecretFlag,
  resolveSecretFlags,
  type SecretFileFlag,
  type SecretFlag,
} from '../secret-flags';
import { relative, renderSchedule, renderSchedules } from './schedule-render';

interface CreateOptions extends Omit<ScheduleFlags, 'name'> {
  file?: string;
  jobFile?: string;
  shell?: string;
  pool?: string;
  label?: Pair[];
  timeout?: string;
  retries?: number;
  env?: Pair[];
  secret?: SecretFlag[];
  secretFile?: SecretFileFlag[];
  json?: boolean;
}

/** How long `create` waits for the schedule's next fire time before it says it does not know it. */
const PEEK_TIMEOUT_MS = 5_000;

const CREATE_HELP =
  'Create a schedule: a job run at the fire times of a cron expression (5 fields, or 6 with seconds first) or an ' +
  'RFC 5545 recurrence (RRULE), in a time zone (default UTC).\n\n' +
  '`jr schedule create NAME --cron EXPR [flags] -- CMD ARG…` runs CMD (argv, no shell; --shell for a command line). ' +
  '`--job-file job.yaml` takes the job from a job file instead (as jr submit -f takes it).\n\n' +
  '`jr schedule create -f schedule.yaml` sends a whole schedule document (YAML; JSON if it ends in .json; - for ' +
  'standard input): name, cron or rrule, timezone, exclusions, overlap, catchup {policy, window}, dst {ambiguous, gap}, ' +
  'paused, and job (a job document). NAME and the flags given with it override the file (--cron/--rrule replace its ' +
  'trigger; job flags are laid over its job as jr submit does).\n\n' +
  'Creating again with the same name and the same document answers the same schedule; a name taken by a different ' +
  'document is refused (exit 64). The API checks the cron, rrule and zone and names every problem by path.';

export function registerSchedule(program: Command, ctx: Context, setExit: SetExit): void {
  const schedule = program
    .command('schedule')
    .description(
      'schedules: jobs run at cron or RRULE fire times (create, list, show, pause, resume, trigger, delete)',
    );
  const api = (): SchedulesApi => new SchedulesApi(ctx.api().http);
  examples(schedule, [
    'jr schedule create nightly --cron "0 3 * * *" --timezone Europe/Berlin -- make nightly',
    'jr schedule list',
    'jr schedule show nightly',
    'jr wait $(jr schedule trigger nightly)',
  ]);
  addCreate(schedule, ctx, setExit, api);
  addList(schedule, ctx, setExit, api);
  addShow(schedule, ctx, setExit, api);
  addPauseResume(schedule, ctx, setExit, api);
  addTrigger(schedule, ctx, setExit, api);
  addDelete(schedule, ctx, setExit, api);
}

type Api = () => SchedulesApi;

function addCreate(schedule: Command, ctx: Context, setExit: SetExit, api: Api): void {
  const create = schedule
    .command('create')
    .summary('create a schedule')
    .description(CREATE_HELP)
    .argument('[name]', 'schedule name (1-128 characters); optional with -f when the file names it', parseScheduleRef)
    .argument('[command...]', 'the program and its arguments, after --');
  addJobOptions(addScheduleOptions(create))
    .option('--json', 'print {id} as one JSON document')
    .action(async (name: string | undefined, command: string[], opts: CreateOptions, cmd: Command) => {
      const operands = splitOperands(cmd, name, command);
      setExit(await createSchedule(ctx, api(), operands.name, operands.command, opts));
    });
  examples(create, [
    'jr schedule create nightly --cron "0 3 * * *" --timezone Europe/Berlin --pool linux -- make nightly',
    'jr schedule create weekly-report --rrule "FREQ=WEEKLY;BYDAY=MO;BYHOUR=6;BYMINUTE=0" --job-file report.yaml',
    'jr schedule create backup --cron "*/15 * * * *" --overlap skip --catchup none --shell "./backup.sh | gzip > b.gz"',
    'jr schedule create -f nightly.yaml',
  ]);
}

/** When it fires and the policies. */
function addScheduleOptions(create: Command): Command {
  return create
    .option('-f, --file <path>', 'schedule document: YAML, JSON if it ends in .json, - for standard input')
    .option('--cron <expr>', 'cron expression: 5 fields, or 6 with seconds first ("0 3 * * 1-5")')
    .option('--rrule <text>', 'RFC 5545 recurrence ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=6", DTSTART;TZID=… allowed)')
    .option('--timezone <zone>', 'IANA time zone the fire times are read in (default UTC), e.g. Europe/Berlin')
    .addOption(
      choices(
        '--overlap <policy>',
        'what a fire does while a job of the schedule still runs (the API defaults to skip)',
        OVERLAP_POLICIES,
      ),
    )
    .addOption(
      choices(
        '--catchup <policy>',
        'which fire times missed while the API was down become jobs (the API defaults to latest)',
        CATCHUP_POLICIES,
      ),
    )
    .option(
      '--catchup-window <duration>',
      'how far back missed fire times are caught up (default 24h, at most 31d)',
      parseCatchupWindow,
    )
    .option('--paused', 'create it paused (no fires until jr schedule resume)');
}

/** The job each fire makes: the options of jr submit that shape a job. */
function addJobOptions(create: Command): Command {
  return create
    .option('--job-file <path>', 'the job from a job file (as jr submit -f takes it) instead of a command')
    .option('--shell <script>', 'run this string with /bin/sh -c instead of a command')
    .option('--pool <pool>', 'pool of agents to run on (default: default)', parsePool)
    .option('--label <k=v>', 'agent label the job needs (repeatable)', collect(parseLabel))
    .option('--timeout <duration>', 'job timeout: 90s, 5m, 1h', parseTimeoutFlag)
    .option('--retries <n>', 're-runs after a failed attempt (0-10)', parseRetries)
    .option('--env <K=V>', 'environment variable for the steps (repeatable)', collect(parseEnv))
    .option(
      '--secret <NAME[=VALUE]>',
      'secret for the steps, write-only (repeatable); NAME alone takes the value from this environment',
      collectSecret(parseSecretFlag),
    )
    .option(
      '--secret-file <NAME=PATH>',
      'secret read from a file, without one trailing newline (repeatable)',
      collectSecret(parseSecretFileFlag),
    );
}

/**
 * Every word after `--` is the command, also when NAME was left out before it (`create -f s.yaml -- make`):
 * commander would take the command's first word for NAME.
 */
function splitOperands(
  cmd: Command,
  name: string | undefined,
  command: string[],
): { name: string | undefined; command: string[] } {
  const given = cmd.parent?.args ?? [];
  const dash = given.indexOf('--');
  if (name === undefined || dash === -1 || given.length - dash - 1 <= command.length) return { name, command };
  return { name: undefined, command: [name, ...command] };
}

async function createSchedule(
  ctx: Context,
  api: SchedulesApi,
  name: string | undefined,
  command: string[],
  opts: CreateOptions,
): Promise<number> {
  const [file, jobFile] = [await readOptional(ctx, opts.file), await readOptional(ctx, opts.jobFile)];
  const doc = buildScheduleDocument({
    file,
    jobFile,
    command,
    flags: { ...opts, name },
    jobFlags: await jobFlags(ctx, opts),
  });
  const answer = await api.create(validateScheduleDocument(doc));
  const { id } = answer.value;
  if (opts.json) printJson(ctx.io, answer.value);
  else ctx.io.stdout.write(`${id}\n`);
  const what = answer.status === 200 ? 'schedule already exists with this document:' : 'created schedule';
  say(ctx.io, `${what} ${clean(doc.name)} (${clean(id)}); ${await nextFireLine(ctx, api, id)}`);
  return EXIT.OK;
}

async function readOptional(ctx: Context, path: string | undefined): Promise<unknown> {
  return path === undefined ? undefined : readJobFile(path, ctx.io.stdin);
}

async function jobFlags(ctx: Context, opts: CreateOptions): Promise<JobFlags> {
  const secrets = await resolveSecretFlags(opts, ctx.io.env, (names) =>
    say(
      ctx.io,
      `note: --secret ${names.join(', ')} with =VALUE puts the value in ps and shell history; prefer --secret NAME or --secret-file`,
    ),
  );
  const { pool, label, timeout, retries, env, shell } = opts;
  return { pool, labels: label, timeout, retries, env, secrets, shell };
}

/** "next fire …" of a schedule just made; a glance: when it fails the create has still succeeded. */
async function nextFireLine(ctx: Context, api: SchedulesApi, id: string): Promise<string> {
  try {
    return fireLine(await api.peek(id, PEEK_TIMEOUT_MS), ctx.clock.now());
  } catch (err) {
    return `its next fire time is not known yet (${clean(err instanceof Error ? err.message : String(err), 200)})`;
  }
}

function fireLine(s: ScheduleAnswer, now: number): string {
  if (s.paused) return `paused: no fires until jr schedule resume ${clean(s.name)}`;
  if (!s.nextFireAt) return 'its rule has no more fire times';
  return `next fire ${timestamp(s.nextFireAt)} (${relative(s.nextFireAt, now)}) in ${clean(s.timezone)}`;
}

function addList(schedule: Command, ctx: Context, setExit: SetExit, api: Api): void {
  const list = schedule
    .command('list')
    .description('schedules: name, id, cron or rrule, time zone, next and last fire, state, active jobs')
    .option('--json', 'print the schedules as one JSON document {items}')
    .action(async (opts: { json?: boolean }) => {
      const items = await api().list();
      if (opts.json) printJson(ctx.io, { items });
      else if (items.length === 0) say(ctx.io, 'no schedules');
      else ctx.io.stdout.write(renderSchedules(items, ctx.clock.now()));
      setExit(EXIT.OK);
    });
  examples(list, ['jr schedule list', 'jr schedule list --json | jq -r ".items[] | select(.paused) | .name"']);
}

function addShow(schedule: Command, ctx: Context, setExit: SetExit, api: Api): void {
  const show = schedule
    .command('show')
    .description('a schedule: its rule and policies, next fire times, missed fires and why, active and recent jobs')
    .argument('<schedule>', 'schedule id or name', parseScheduleRef)
    .option('--json', 'print the schedule as one JSON document, with its last 5 jobs as recentJobs')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const s = await api().get(ref);
      const recentJobs = (await ctx.api().listJobs({ schedule: s.id, limit: 5 })).items;
      if (opts.json) printJson(ctx.io, { ...s, recentJobs });
      else ctx.io.stdout.write(renderSchedule(s, recentJobs, ctx.clock.now()));
      setExit(EXIT.OK);
    });
  examples(show, ['jr schedule show nightly', 'jr schedule show s_01hz… --json | jq .nextFireTimes']);
}

function addPauseResume(schedule: Command, ctx: Context, setExit: SetExit, api: Api): void {
  for (const action of ['pause', 'resume'] as const) {
    const cmd = schedule
      .command(action)
      .description(action === 'pause' ? 'pause a schedule: it makes no jobs until resumed' : 'resume a paused schedule')
      .argument('<schedule>', 'schedule id or name', parseScheduleRef)
      .action(async (ref: string) => {
        const schedules = api();
        const { id } = await schedules.get(ref);
        const s = action === 'pause' ? await schedules.pause(id) : await schedules.resume(id);
        say(ctx.io, `${action}d schedule ${clean(s.name)} (${clean(s.id)}); ${fireLine(s, ctx.clock.now())}`);
        setExit(EXIT.OK);
      });
    examples(cmd, [`jr schedule ${action} nightly`]);
  }
}

function addTrigger(schedule: Command, ctx: Context, setExit: SetExit, api: Api): void {
  const trigger = schedule
    .command('trigger')
    .description("run a schedule's job now (prints the job's id on stdout)")
    .argument('<schedule>', 'schedule id or name', parseScheduleRef)
    .option('--json', 'print {id, jobId, fireTime} as one JSON document')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const schedules = api();
      const s = await schedules.get(ref);
      const t = await schedules.trigger(s.id);
      if (opts.json) printJson(ctx.io, t);
      else ctx.io.stdout.write(`${t.jobId}\n`);
      say(ctx.io, `triggered schedule ${clean(s.name)}: job ${clean(t.jobId)} for fire time ${timestamp(t.fireTime)}`);
      setExit(EXIT.OK);
    });
  examples(trigger, ['jr schedule trigger nightly', 'jr wait $(jr schedule trigger nightly)']);
}

function addDelete(schedule: Command, ctx: Context, setExit: SetExit, api: Api): void {
  const del = schedule
    .command('delete')
    .description('delete a schedule (no confirmation): it makes no more jobs; jobs it made are kept')
    .argument('<schedule>', 'schedule id or name', parseScheduleRef)
    .action(async (ref: string) => {
      const schedules = api();
      const s = await schedules.get(ref);
      await schedules.remove(s.id);
      say(ctx.io, `deleted schedule ${clean(s.name)} (${clean(s.id)})`);
      setExit(EXIT.OK);
    });
  examples(del, ['jr schedule delete nightly']);
}

/** An option with fixed values: commander refuses others (exit 64), completion offers them. */
function choices(flags: string, description: string, values: readonly string[]): Option {
  return new Option(flags, description).choices(values);
}

/**
 * `Examples:` at the end of --help, as examples.ts adds them to the other commands (same format, so the
 * examples spec covers these too).
 */
function examples(cmd: Command, lines: readonly string[]): void {
  cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}
