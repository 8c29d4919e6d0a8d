import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parse } from 'yaml';
import { generateSloRules, parseDurationMs, parseSloDocument, SLO_LIMITS } from '@jr/contracts';
import { CliError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { printJson, say } from '../output';
import { SloApi } from '../slo-api';
import { renderSloHtml } from '../slo-html';
import { renderIncidents, renderSloTable } from '../slo-render';

/** `--window 30d`: kept as text for the API, checked here so a typo is a usage error (exit 64). */
function parseWindow(value: string): string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < SLO_LIMITS.minWindowMs || ms > SLO_LIMITS.maxWindowMs)
    throw new InvalidArgumentError('expected a duration between 1h and 90d, such as 30d or 12h.');
  return value;
}

const SLO_HELP =
  "Service levels over a window (default: the objectives file's, usually 30d): per objective the attainment, the " +
  'error budget left and the burn rate; availability both ways (uptime ÷ (uptime + downtime) and MTBF ÷ (MTBF + ' +
  'MTTR)); MTBF and MTTR as p50/p90/max with the mean; the theoretical availability from the dependencies; and the ' +
  "incidents the API recorded. The objectives are the API's JR_SLO_FILE.";

export function registerSlo(program: Command, ctx: Context, setExit: SetExit): void {
  const slo = program
    .command('slo')
    .description(SLO_HELP)
    .option('--window <duration>', 'the window to report on (1h-90d)', parseWindow)
    .option('--json', 'print the report as one JSON document')
    .action(async (opts: { window?: string; json?: boolean }) => {
      const r = await new SloApi(ctx.api().http).report(opts.window);
      if (opts.json) printJson(ctx.io, r);
      else ctx.io.stdout.write(renderSloTable(r));
      setExit(EXIT.OK);
    });

  slo
    .command('rules')
    .description(
      'Prometheus recording rules and multi-window, multi-burn-rate alerts (14.4x/1h+5m, 6x/6h+30m, 1x/3d+6h) for ' +
        "the API's objectives, as YAML on stdout (jr slo rules > rules.yml; check with promtool check rules). " +
        '--file generates them from an objectives file here, without asking the API.',
    )
    .option('--file <path>', "an objectives file (YAML) to generate from instead of the API's")
    .action(async (opts: { file?: string }) => {
      ctx.io.stdout.write(opts.file ? rulesFromFile(opts.file) : await new SloApi(ctx.api().http).rules());
      setExit(EXIT.OK);
    });

  slo
    .command('report')
    .description('write the report as one self-contained HTML page with charts of attainment, budget and incidents')
    .requiredOption('--html <file>', 'where to write the page')
    .option('--window <duration>', 'the window to report on (1h-90d)', parseWindow)
    .action(async (opts: { html: string; window?: string }) => {
      const r = await new SloApi(ctx.api().http).report(opts.window);
      writeAtomically(opts.html, renderSloHtml(r, { generatedAt: new Date() }));
      say(ctx.io, `wrote ${opts.html} (${r.objectives.length} objectives, ${r.incidents.length} incidents)`);
      setExit(EXIT.OK);
    });
}

export function registerIncidents(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('incidents')
    .description(
      "incidents the API recorded itself, newest first: a dependency down, intake refusing, an objective's " +
        "canaries failing, an agent's reporting breaker open; with start, end, cause and scope",
    )
    .option('--window <duration>', "how far back (1h-90d, default the objectives' window)", parseWindow)
    .option('--json', 'print them as one JSON document')
    .action(async (opts: { window?: string; json?: boolean }) => {
      const items = await new SloApi(ctx.api().http).incidents(opts.window);
      if (opts.json) printJson(ctx.io, { items });
      else if (items.length === 0) say(ctx.io, 'no incidents in the window');
      else ctx.io.stdout.write(renderIncidents(items));
      setExit(EXIT.OK);
    });
}

function rulesFromFile(file: string): string {
  let value: unknown;
  try {
    value = parse(readFileSync(file, 'utf8'), { uniqueKeys: true, maxAliasCount: 10 });
  } catch (err) {
    throw new CliError(EXIT.USAGE, `${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return generateSloRules(parseSloDocument(value));
  } catch (err) {
    throw new CliError(EXIT.USAGE, `${file}: ${(err as Error).message}`);
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    throw new CliError(EXIT.USAGE, `cannot write ${file}: ${(err as Error).message}`);
  }
}
