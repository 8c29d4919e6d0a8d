import { Option, type Command } from 'commander';
import { JOB_STATES, type JobState } from '@jr/contracts';
import type { JobAnswer, JobPageAnswer } from '../api-schemas';
import { CliError, UsageError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import type { JobsApi } from '../jobs-api';
import { parseCursor, parseId, parseLimit, parsePool, parseState } from '../options';
import { age, clean, formatTable, printJson } from '../output';
import { duration } from './status.command';

interface ListOptions {
  state?: JobState;
  pool?: string;
  schedule?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

/** Page size for --all: the API's largest, so a long history takes few requests. */
const ALL_PAGE_SIZE = 500;

export function registerList(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('list')
    .description('recent jobs, newest first, one page at a time (a full page ends with "more: --cursor X" on stderr)')
    .addOption(stateOption())
    .option('--pool <pool>', 'only jobs of this pool', parsePool)
    .option('--schedule <id>', 'only jobs this schedule made (its id, as jr schedule list shows)', parseId)
    .option('--limit <n>', 'jobs per page (1-500, default 50)', parseLimit)
    .option('--cursor <cursor>', 'the page after the one that printed "more: --cursor <cursor>"', parseCursor)
    .option('--all', 'every page, in one table (or one JSON document); not with --limit')
    .option('--json', 'print the page as one JSON document {items, nextCursor}')
    .action(async (opts: ListOptions) => {
      if (opts.all && opts.limit !== undefined)
        throw new UsageError('--all walks every page; give --all or --limit, not both');
      const filters = { state: opts.state, pool: opts.pool, schedule: opts.schedule };
      const api = ctx.api();
      const page = opts.all
        ? await allPages(api, filters, opts.cursor)
        : await api.listJobs({ ...filters, limit: opts.limit, cursor: opts.cursor });
      if (opts.json) printJson(ctx.io, page);
      else if (page.items.length === 0) ctx.io.stderr.write('no jobs\n');
      else ctx.io.stdout.write(renderJobs(page.items, ctx));
      if (page.nextCursor) ctx.io.stderr.write(`more: --cursor ${clean(page.nextCursor, 600)}\n`);
      setExit(EXIT.OK);
    });
}

/** Every page from `cursor` on; a server whose cursors go round in circles is an unusable answer, not a hang. */
async function allPages(
  api: JobsApi,
  filters: { state?: JobState; pool?: string; schedule?: string },
  cursor: string | undefined,
): Promise<JobPageAnswer> {
  const items: JobAnswer[] = [];
  const seen = new Set<string>();
  for (let next = cursor; ;) {
    const page = await api.listJobs({ ...filters, limit: ALL_PAGE_SIZE, cursor: next });
    items.push(...page.items);
    if (!page.nextCursor) return { items, nextCursor: null };
    if (seen.has(page.nextCursor) || page.items.length === 0)
      throw new CliError(
        EXIT.BAD_ANSWER,
        `the API's pages of jobs do not end (cursor ${clean(page.nextCursor, 100)} again)`,
      );
    seen.add(page.nextCursor);
    next = page.nextCursor;
  }
}

function renderJobs(jobs: readonly JobAnswer[], ctx: Context): string {
  const now = ctx.clock.now();
  const rows = jobs.map((j) => [
    clean(j.id),
    clean(j.name, 40),
    clean(j.state),
    j.exitCode === null ? '-' : String(j.exitCode),
    duration(j.durationMs),
    clean(j.pool),
    age(j.createdAt, now),
  ]);
  const paint = (row: number, col: number, text: string): string =>
    col === 2 ? ctx.colors.state(text, jobs[row]?.state ?? '') : text;
  return formatTable(['ID', 'NAME', 'STATE', 'EXIT', 'DURATION', 'POOL', 'AGE'], rows, paint);
}

/** --state keeps its own message for a bad value; its choices show in --help and in shell completion. */
function stateOption(): Option {
  const option = new Option('--state <state>', 'only jobs in this state').argParser(parseState);
  option.argChoices = [...JOB_STATES];
  return option;
}
