import { InvalidArgumentError, type Command } from 'commander';
import { formatDurationMs, parseDurationMs } from '@jr/contracts';
import type { Context, SetExit } from '../context';
import { EnrollTokensApi, type EnrollTokenAnswer } from '../enroll-tokens-api';
import { EXIT } from '../exit-codes';
import { collect, parseId, parseLabel, parsePool, type Pair } from '../options';
import { clean, formatLabels, formatTable, printJson, say } from '../output';

const TTL_MIN_MS = 60_000;
const TTL_MAX_MS = 366 * 86_400_000;

interface CreateOptions {
  pool: string;
  label?: Pair[];
  uses: number;
  ttl: string;
  name?: string;
  json?: boolean;
}

/**
 * `jr tokens create-enroll|list-enroll|revoke-enroll`: operator enroll tokens that fix the pool and
 * labels of the agents enrolling with them, admit at most `--uses` agents and expire after `--ttl`.
 */
export function addEnrollTokenCommands(tokens: Command, ctx: Context, setExit: SetExit): void {
  const api = (): EnrollTokensApi => new EnrollTokensApi(ctx.api().http);
  tokens
    .command('create-enroll')
    .description('make an enroll token (printed once) for agents of one pool: they get its pool and at most its labels')
    .requiredOption('--pool <pool>', 'the pool every agent enrolling with it serves', parsePool)
    .option(
      '--label <k=v>',
      'a label its agents may carry (repeatable); they may declare fewer, never others',
      collect(parseLabel),
    )
    .requiredOption('--uses <n>', 'how many agents it admits (1-10000)', parseUses)
    .requiredOption('--ttl <duration>', 'how long it is valid, e.g. 30m, 1h, 7d (1m to 366d)', parseTtl)
    .option('--name <name>', 'a name to recognise it by in jr tokens list-enroll')
    .option('--json', 'print {id, token, pool, labels, uses, expiresAt, …} as one JSON document')
    .action(async (opts: CreateOptions) => {
      const created = await api().create({
        pool: opts.pool,
        labels: Object.fromEntries(opts.label ?? []),
        uses: opts.uses,
        ttl: opts.ttl,
        ...(opts.name === undefined ? {} : { name: opts.name }),
      });
      if (opts.json) printJson(ctx.io, created);
      else {
        ctx.io.stdout.write(`${created.token}\n`);
        say(
          ctx.io,
          `enroll token ${clean(created.id)} for pool ${clean(created.pool)}: ${created.uses} agent(s) until ${clean(created.expiresAt)}; ` +
            'it is shown only this once: give it to the agents as JR_ENROLL_TOKEN',
        );
      }
      setExit(EXIT.OK);
    });

  tokens
    .command('list-enroll')
    .description('enroll tokens: pool, labels, uses, expiry, state (never the tokens themselves)')
    .option('--json', 'print the tokens as one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const items = await api().list();
      if (opts.json) printJson(ctx.io, { items });
      else if (items.length === 0) say(ctx.io, 'no enroll tokens');
      else ctx.io.stdout.write(renderEnrollTokens(items, ctx.clock.now()));
      setExit(EXIT.OK);
    });

  tokens
    .command('revoke-enroll')
    .description('end an enroll token: no agent enrolls with it any more (agents enrolled with it keep running)')
    .argument('<id>', 'enroll token id (et_…)', parseId)
    .action(async (id: string) => {
      await api().revoke(id);
      say(
        ctx.io,
        `revoked enroll token ${clean(id)} (agents enrolled with it keep running; jr agents revoke ends those)`,
      );
      setExit(EXIT.OK);
    });
}

export function renderEnrollTokens(items: readonly EnrollTokenAnswer[], now: number): string {
  const rows = items.map((t) => [
    clean(t.id),
    clean(t.name || '-', 30),
    clean(t.pool),
    clean(formatLabels(t.labels), 40),
    `${t.used}/${t.uses}`,
    clean(expiry(t.expiresAt, now)),
    clean(t.state),
  ]);
  return formatTable(['ID', 'NAME', 'POOL', 'LABELS', 'USED', 'EXPIRES', 'STATE'], rows);
}

function expiry(iso: string, now: number): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '-';
  return ms > now ? `in ${formatDurationMs(ms - now)}` : `${formatDurationMs(now - ms)} ago`;
}

function parseUses(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number from 1 to 10000.');
  const n = Number(value.trim());
  if (n < 1 || n > 10_000) throw new InvalidArgumentError('expected a whole number from 1 to 10000.');
  return n;
}

function parseTtl(value: string): string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < TTL_MIN_MS || ms > TTL_MAX_MS)
    throw new InvalidArgumentError('expected a duration such as 30m, 1h or 7d (1m to 366d).');
  return value.trim();
}
