import { InvalidArgumentError, type Command } from 'commander';
import { AdminApi, type AuditEntryAnswer } from '../admin-api';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parseLimit } from '../options';
import { clean, formatTable, printJson, say, timestamp } from '../output';

function parseFilter(value: string): string {
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) throw new InvalidArgumentError('expected 1-128 printable characters.');
  return value;
}

export function registerAudit(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('audit')
    .description(
      'the audit log, newest first: who (token or agent) did what to what, when, from where, and how it ended',
    )
    .option('--limit <n>', 'entries to show (1-500, default 50)', parseLimit)
    .option('--action <action>', 'only this action (e.g. jobs.cancel, agents.drain, tokens.create)', parseFilter)
    .option('--actor <actor>', 'only this actor (admin, a token id, an agent id)', parseFilter)
    .option('--target <target>', 'only this target (a job, agent or token id)', parseFilter)
    .option('--since <when>', 'only entries since an ISO time or a duration back (1h, 7d)', parseFilter)
    .option('--json', 'print the page as one JSON document')
    .action(
      async (opts: {
        limit?: number;
        action?: string;
        actor?: string;
        target?: string;
        since?: string;
        json?: boolean;
      }) => {
        const { json, ...query } = opts;
        const page = await new AdminApi(ctx.api().http).audit(query);
        if (json) printJson(ctx.io, page);
        else if (page.items.length === 0) say(ctx.io, 'no audit entries');
        else ctx.io.stdout.write(renderAudit(page.items));
        setExit(EXIT.OK);
      },
    );
}

function renderAudit(items: readonly AuditEntryAnswer[]): string {
  const rows = items.map((e) => [
    timestamp(e.at),
    clean(e.actorName && e.actorName !== e.actor ? `${e.actor} (${e.actorName})` : e.actor, 50),
    clean(e.action),
    clean(e.target ?? '-', 40),
    clean(e.outcome),
    clean(e.address ?? '-', 40),
  ]);
  return formatTable(['TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'ADDRESS'], rows);
}
