import * as path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { Document } from 'yaml';
import { UsageError } from '../cli-error';
import { CONTEXT_NAME_RE, loadConfigFile, updateConfigFile, type ConfigFile } from '../config-file';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parseApiUrl, parseToken } from '../options';
import { clean, formatTable, printJson, say } from '../output';

const CONFIG_HELP = `
The file is $JR_CONFIG, else $XDG_CONFIG_HOME/jr/config.yaml, else ~/.config/jr/config.yaml:

  currentContext: prod
  contexts:
    prod:
      apiUrl: https://jr.example.com:8080
      tokenFile: ~/.config/jr/prod.token   # or token: … (then keep the file chmod 600)
      caFile: /etc/jr/ca.pem
    local:
      apiUrl: http://127.0.0.1:8080

Relative paths are relative to the file. --context NAME picks a context for one command; it beats
JR_API_URL/JR_TOKEN, which beat the current context; --api-url and --token beat everything.
`;

interface SetContextOptions {
  apiUrl?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
}

export function registerConfig(program: Command, ctx: Context, setExit: SetExit): void {
  const config = program
    .command('config')
    .description('named contexts (API URL, token or token file, CA file) in the config file')
    .addHelpText('after', CONFIG_HELP.trimEnd());
  registerReading(config, ctx, setExit);
  registerWriting(config, ctx, setExit);
}

function registerReading(config: Command, ctx: Context, setExit: SetExit): void {
  config
    .command('get-contexts')
    .description('list the contexts; * marks the current one (tokens are never shown)')
    .option('--json', 'print the contexts as one JSON document')
    .action((opts: { json?: boolean }) => {
      const file = load(ctx);
      if (opts.json) printJson(ctx.io, contextsDocument(file));
      else if (Object.keys(file.contexts).length === 0)
        say(ctx.io, `no contexts in ${file.path}; add one with jr config set-context NAME --api-url URL`);
      else ctx.io.stdout.write(renderContexts(file));
      setExit(EXIT.OK);
    });

  config
    .command('current-context')
    .description('print the name of the current context')
    .action(() => {
      const file = load(ctx);
      if (file.currentContext === undefined)
        throw new UsageError(`no current context in ${file.path}; pick one with jr config use-context NAME`);
      ctx.io.stdout.write(`${file.currentContext}\n`);
      setExit(EXIT.OK);
    });
}

function registerWriting(config: Command, ctx: Context, setExit: SetExit): void {
  config
    .command('use-context')
    .description('make NAME the current context (used when no --context is given)')
    .argument('<name>', 'context name', parseContextName)
    .action((name: string) => {
      const file = load(ctx);
      if (!Object.hasOwn(file.contexts, name)) throw unknownContext(file, name);
      updateConfigFile(ctx.io.env, (doc) => doc.set('currentContext', name));
      say(ctx.io, `switched to context ${name}`);
      setExit(EXIT.OK);
    });

  config
    .command('set-context')
    .description('create a context or change some of its settings')
    .argument('<name>', 'context name', parseContextName)
    .option('--api-url <url>', 'the API, e.g. https://jr.example.com:8080', parseApiUrl)
    .option('--token <token>', 'an API token stored in the file itself (prefer --token-file)', parseToken)
    .option('--token-file <path>', 'a file holding the token (read at each use)')
    .option('--ca-file <path>', 'PEM bundle of CAs to trust for the API')
    .action((name: string, opts: SetContextOptions) => {
      if (opts.token !== undefined && opts.tokenFile !== undefined)
        throw new UsageError('give --token or --token-file, not both');
      load(ctx); // refuse to edit a file we cannot read
      const file = updateConfigFile(ctx.io.env, (doc) => applyContext(doc, name, opts));
      say(ctx.io, `context ${name} saved in ${file}`);
      setExit(EXIT.OK);
    });

  config
    .command('delete-context')
    .description('remove a context (and unset it as the current one)')
    .argument('<name>', 'context name', parseContextName)
    .action((name: string) => {
      const file = load(ctx);
      if (!Object.hasOwn(file.contexts, name)) throw unknownContext(file, name);
      updateConfigFile(ctx.io.env, (doc) => {
        doc.deleteIn(['contexts', name]);
        if (file.currentContext === name) doc.delete('currentContext');
      });
      say(ctx.io, `deleted context ${name}`);
      setExit(EXIT.OK);
    });
}

function load(ctx: Context): ConfigFile {
  const file = loadConfigFile(ctx.io.env);
  for (const w of file.warnings) say(ctx.io, `jr: ${w}`);
  return file;
}

function applyContext(doc: Document, name: string, opts: SetContextOptions): void {
  if (!doc.has('contexts') || doc.get('contexts') === null) doc.set('contexts', doc.createNode({}));
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) doc.setIn(['contexts', name, key], value);
  };
  if (!doc.hasIn(['contexts', name])) doc.setIn(['contexts', name], doc.createNode({}));
  set('apiUrl', opts.apiUrl);
  if (opts.token !== undefined) doc.deleteIn(['contexts', name, 'tokenFile']);
  if (opts.tokenFile !== undefined) doc.deleteIn(['contexts', name, 'token']);
  set('token', opts.token);
  set('tokenFile', opts.tokenFile === undefined ? undefined : absolute(opts.tokenFile));
  set('caFile', opts.caFile === undefined ? undefined : absolute(opts.caFile));
}

/** Paths given on the command line are relative to where the user stands, not to the config file. */
function absolute(p: string): string {
  if (p.includes('\0')) throw new UsageError('paths cannot contain NUL');
  return p === '~' || p.startsWith('~/') ? p : path.resolve(p);
}

function unknownContext(file: ConfigFile, name: string): UsageError {
  const known = Object.keys(file.contexts);
  return new UsageError(
    `no context ${name} in ${file.path}${known.length > 0 ? `; contexts: ${known.join(', ')}` : ''}`,
  );
}

function renderContexts(file: ConfigFile): string {
  const rows = Object.entries(file.contexts).map(([name, c]) => [
    name === file.currentContext ? '*' : '',
    name,
    clean(c.apiUrl ?? '-', 200),
    c.token !== undefined ? '(in file)' : c.tokenFile !== undefined ? clean(c.tokenFile, 200) : '-',
    clean(c.caFile ?? '-', 200),
  ]);
  return formatTable(['CURRENT', 'NAME', 'API URL', 'TOKEN', 'CA FILE'], rows);
}

function contextsDocument(file: ConfigFile): unknown {
  return {
    path: file.path,
    currentContext: file.currentContext ?? null,
    contexts: Object.entries(file.contexts).map(([name, c]) => ({
      name,
      current: name === file.currentContext,
      apiUrl: c.apiUrl ?? null,
      token: c.token !== undefined ? 'inline' : c.tokenFile !== undefined ? 'file' : null,
      tokenFile: c.tokenFile ?? null,
      caFile: c.caFile ?? null,
    })),
  };
}

export function parseContextName(value: string): string {
  if (!CONTEXT_NAME_RE.test(value))
    throw new InvalidArgumentError(
      'context names are letters, digits and _ . @ : - (at most 63, starting with a letter or digit).',
    );
  return value;
}
