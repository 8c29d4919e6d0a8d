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
  if (context && config.caFile !== undefined) checkCaFile(file, context.name, config, warn);
  return config;
}

/**
 * A context's caFile must be a readable PEM bundle. Node 20's fetch cannot be given a CA of its own
 * (that needs undici or Node >= 22.19), so for an https URL we say plainly that it is not applied yet.
 */
function checkCaFile(file: ConfigFile, name: string, config: CliConfig, warn: (line: string) => void): void {
  const where = `${file.path}: context ${name}: caFile ${config.caFile ?? ''}`;
  let text: string;
  try {
    text = readFileSync(config.caFile ?? '', 'utf8');
  } catch (err) {
    throw new UsageError(`${where}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`${where}: holds no PEM certificate`);
  if (config.apiUrl.protocol === 'https:')
    warn(
      `warning: context ${name}: caFile is not applied by this jr yet; the system's CAs decide whether ${config.apiUrl.host} is trusted`,
    );
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
