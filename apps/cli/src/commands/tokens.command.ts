import { InvalidArgumentError, type Command } from 'commander';
import { isScope, parseDurationMs, SCOPES, TOKEN_ID_RE, TOKEN_TTL_MAX_MS } from '@jr/contracts';
import { AdminApi, type TokenViewAnswer } from '../admin-api';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parsePool } from '../options';
import { clean, formatTable, printJson, say, timestamp } from '../output';

/** `--scope jobs:submit,jobs:read` (repeatable): each scope once, every one known. */
export function parseScopes(value: string, previous: string[] = []): string[] {
  const scopes = [...previous];
  for (const s of value.split(',').map((x) => x.trim())) {
    if (!isScope(s))
      throw new InvalidArgumentError(`unknown scope ${JSON.stringify(s)}; scopes: ${SCOPES.join(', ')}.`);
    if (!scopes.includes(s)) scopes.push(s);
  }
  return scopes;
}

export function parseTtl(value: string): string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 60_000 || ms > TOKEN_TTL_MAX_MS)
    throw new InvalidArgumentError('expected a duration between 1m and 366d, like 12h or 30d.');
  return value;
}

export function parseTokenName(value: string): string {
  if (!/^[\x20-\x7e]{1,100}$/.test(value)) throw new InvalidArgumentError('expected 1-100 printable ASCII characters.');
  return value;
}

function parseTokenId(value: string): string {
  if (!TOKEN_ID_RE.test(value)) throw new InvalidArgumentError('not a token id (t_…, as jr tokens list shows).');
  return value;
}

/**
 * `jr tokens` and its subcommands. Returns the `tokens` command so other commands can hang under it
 * (e.g. `create-enroll`).
 */
export function registerTokens(program: Command, ctx: Context, setExit: SetExit): Command {
  const tokens = program
    .command('tokens')
    .description('scoped, expiring API tokens: create (shown once), list, revoke');
  const admin = (): AdminApi => new AdminApi(ctx.api().http);

  tokens
    .command('create')
    .description('create an API token and print it once (only its hash is stored)')
    .requiredOption('--scope <scopes>', `scopes, comma-separated or repeated: ${SCOPES.join(', ')}`, parseScopes)
    .option('--pool <pool>', 'restrict the token to the jobs of one pool', parsePool)
    .option('--ttl <duration>', 'lifetime, 1m to 366d (default 30d)', parseTtl)
    .option('--name <name>', 'a name to know it by in jr tokens list and jr audit', parseTokenName)
    .option('--json', 'print {id, token, scopes, expiresAt} as one JSON document')
    .action(async (opts: { scope: string[]; pool?: string; ttl?: string; name?: string; json?: boolean }) => {
      const t = await admin().createToken({
        scopes: opts.scope,
        ...(opts.pool === undefined ? {} : { pool: opts.pool }),
        ...(opts.ttl === undefined ? {} : { ttl: opts.ttl }),
        ...(opts.name === undefined ? {} : { name: opts.name }),
      });
      if (opts.json) printJson(ctx.io, { id: t.id, token: t.token, scopes: t.scopes, expiresAt: t.expiresAt });
      else {
        ctx.io.stdout.write(`${t.token}\n`);
        say(
          ctx.io,
          `token ${clean(t.id)} (${t.scopes.map((s) => clean(s)).join(', ')}${t.pool ? `, pool ${clean(t.pool)}` : ''}) expires ${timestamp(t.expiresAt)}; it is shown this once`,
        );
      }
      setExit(EXIT.OK);
    });

  tokens
    .command('list')
    .description('API tokens (never their secrets): scopes, pool, state, expiry, last use and from where')
    .option('--json', 'print the tokens as one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const items = await admin().listTokens();
      if (opts.json) printJson(ctx.io, { items });
      else if (items.length === 0) say(ctx.io, 'no API tokens');
      else ctx.io.stdout.write(renderTokens(items));
      setExit(EXIT.OK);
    });

  tokens
    .command('revoke')
    .description('revoke an API token: refused from its next request on (within a second on every replica)')
    .argument('<id>', 'token id', parseTokenId)
    .action(async (id: string) => {
      await admin().revokeToken(id);
      say(ctx.io, `revoked token ${clean(id)}`);
      setExit(EXIT.OK);
    });

  return tokens;
}

function renderTokens(items: readonly TokenViewAnswer[]): string {
  const rows = items.map((t) => [
    clean(t.id),
    clean(t.name, 30),
    clean(t.scopes.join(','), 60),
    clean(t.pool ?? '*'),
    clean(t.state),
    timestamp(t.expiresAt),
    t.lastUsedAt ? `${timestamp(t.lastUsedAt)} ${clean(t.lastUsedAddress ?? '')}` : 'never',
  ]);
  return formatTable(['ID', 'NAME', 'SCOPES', 'POOL', 'STATE', 'EXPIRES', 'LAST USED'], rows);
}
