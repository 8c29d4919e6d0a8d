import { readFileSync } from 'node:fs';
import { UsageError } from './cli-error';
import { parseConfig, type CliConfig, type ConnectionFlags, type ContextSettings } from './config';
import { loadConfigFile, readTokenFile, resolvePath, type ConfigFile, type Env } from './config-file';

/**
 * The connection for this run: flags, environment and the config file's context (see parseConfig for
 * the order). The file is read only here, when a command first talks to the API, so `--help` and
 * `jr completion` work with a broken file.
 */
export function resolveConnection(env: Env, flags: ConnectionFlags, warn: (line: string) => void): CliConfig {
  const file = loadConfigFile(env);
  for (const w of file.warnings) warn(w);
  const context = pickContext(file, flags.context, env);
  const config = parseConfig(env, flags, context);
  if (config.caFile !== undefined)
    checkCaFile(
      config.caFile,
      context?.caFile === config.caFile ? `${file.path}: context ${context.name}: caFile` : 'JR_CA_FILE',
    );
  const plain = plainTextWarning(config);
  if (plain) warn(plain);
  return config;
}

/** The CA bundle must be a readable PEM file (it is read again, in full, when the first request is made). */
function checkCaFile(caFile: string, what: string): void {
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new UsageError(`${what} ${caFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(`${what} ${caFile}: holds no PEM certificate`);
}

/** Plain http is said out loud, except to a loopback API (a local development API): tokens cross it readable. */
function plainTextWarning(config: CliConfig): string | undefined {
  if (config.apiUrl.protocol !== 'http:') return undefined;
  if (config.insecure) return `warning: JR_INSECURE=1: talking to ${config.apiUrl.host} in plain text`;
  if (isLoopback(config.apiUrl.hostname)) return undefined;
  return `warning: ${config.apiUrl.origin} is plain text: the token crosses the network readable (use https)`;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function pickContext(file: ConfigFile, flagged: string | undefined, env: Env): ContextSettings | undefined {
  const name = flagged ?? file.currentContext;
  if (name === undefined) return undefined;
  const entry = Object.hasOwn(file.contexts, name) ? file.contexts[name] : undefined;
  if (!entry) {
    const known = Object.keys(file.contexts);
    const where = file.exists ? file.path : `${file.path} (no such file)`;
    throw new UsageError(`no context ${name} in ${where}${known.length > 0 ? `; contexts: ${known.join(', ')}` : ''}`);
  }
  const token = entry.tokenFile !== undefined ? readTokenFile(file, name, entry.tokenFile, env) : entry.token;
  return {
    name,
    explicit: flagged !== undefined,
    ...(entry.apiUrl !== undefined ? { apiUrl: entry.apiUrl } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(entry.caFile !== undefined ? { caFile: resolvePath(file, entry.caFile, env) } : {}),
  };
}
