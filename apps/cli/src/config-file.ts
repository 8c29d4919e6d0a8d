import { chmodSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Document, isMap, parseDocument } from 'yaml';
import { z } from 'zod';
import { UsageError } from './cli-error';
import { tokenSchema } from './config-schemas';
import { apiUrlListSchema } from './endpoints';

/**
 * The CLI's config file: named contexts (kubectl-style), each an API URL, a token or token file and
 * a CA file, plus `currentContext`. Found at $JR_CONFIG, else $XDG_CONFIG_HOME/jr/config.yaml, else
 * ~/.config/jr/config.yaml. A missing file is an empty one; a bad one is a usage error (exit 64)
 * naming the file and every problem.
 */
export interface ContextEntry {
  apiUrl?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
}

export interface ConfigFile {
  path: string;
  exists: boolean;
  currentContext: string | undefined;
  contexts: Record<string, ContextEntry>;
  /** Things to say on stderr (e.g. a token in a file others can read). */
  warnings: string[];
}

export type Env = Record<string, string | undefined>;

const MAX_FILE_BYTES = 1024 * 1024;
const MAX_TOKEN_FILE_BYTES = 64 * 1024;
export const CONTEXT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,62}$/;
const NAME_MESSAGE = 'context names are letters, digits and _ . @ : - (at most 63, starting with a letter or digit)';

const pathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((v) => !v.includes('\0'), 'must not contain NUL');
const contextSchema = z
  .strictObject({
    apiUrl: apiUrlListSchema.optional(),
    token: tokenSchema.optional(),
    tokenFile: pathSchema.optional(),
    caFile: pathSchema.optional(),
  })
  .refine((c) => c.token === undefined || c.tokenFile === undefined, 'give token or tokenFile, not both');
const fileSchema = z
  .strictObject({
    currentContext: z.string().regex(CONTEXT_NAME_RE, NAME_MESSAGE).nullable().optional(),
    contexts: z.record(z.string().regex(CONTEXT_NAME_RE, NAME_MESSAGE), contextSchema).nullable().optional(),
  })
  .refine((f) => !f.currentContext || Object.hasOwn(f.contexts ?? {}, f.currentContext), {
    message: 'names no context of this file',
    path: ['currentContext'],
  });

const nonBlank = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** Where the config file is, from the environment (nothing is read). */
export function configPath(env: Env): string {
  if (nonBlank(env.JR_CONFIG)) return path.resolve(env.JR_CONFIG);
  // the XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored
  if (nonBlank(env.XDG_CONFIG_HOME) && path.isAbsolute(env.XDG_CONFIG_HOME))
    return path.join(env.XDG_CONFIG_HOME, 'jr', 'config.yaml');
  return path.join(home(env), '.config', 'jr', 'config.yaml');
}

function home(env: Env): string {
  return nonBlank(env.HOME) ? env.HOME : os.homedir();
}

/** Reads and checks the config file; missing is empty. */
export function loadConfigFile(env: Env): ConfigFile {
  const file = configPath(env);
  const text = readText(file);
  if (text === undefined) return { path: file, exists: false, currentContext: undefined, contexts: {}, warnings: [] };
  const parsed = fileSchema.safeParse(parseYaml(text.doc, file) ?? {});
  if (!parsed.success) {
    throw new UsageError(`${file}: ${issuesText(parsed.error)}`);
  }
  const contexts = parsed.data.contexts ?? {};
  const warnings: string[] = [];
  const inline = Object.entries(contexts).filter(([, c]) => c.token !== undefined);
  if (inline.length > 0 && (text.mode & 0o044) !== 0) {
    warnings.push(
      `warning: ${file} holds a token (context ${inline.map(([n]) => n).join(', ')}) and other users can read it; run chmod 600 ${file} or use tokenFile`,
    );
  }
  return { path: file, exists: true, currentContext: parsed.data.currentContext ?? undefined, contexts, warnings };
}

function readText(file: string): { doc: string; mode: number } | undefined {
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new UsageError(`${file}: not a regular file`);
    if (stat.size > MAX_FILE_BYTES)
      throw new UsageError(`${file}: larger than ${MAX_FILE_BYTES / 1024} KiB; is this the config file?`);
    mode = stat.mode;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`${file}: cannot read the config file (${errCode(err)})`);
  }
  try {
    const buffer = readFileSync(file);
    const doc = new TextDecoder('utf-8', { fatal: true }).decode(buffer).replace(/^\uFEFF/, '');
    return { doc, mode };
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`${file}: not UTF-8 text`);
    throw new UsageError(`${file}: cannot read the config file (${errCode(err)})`);
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseConfigDocument(text, file);
  try {
    return doc.toJS({ maxAliasCount: 20 }) as unknown;
  } catch (err) {
    throw new UsageError(`${file}: cannot use this YAML: ${(err as Error).message}`);
  }
}

function parseConfigDocument(text: string, file: string): Document {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, version: '1.2' });
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const said = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'malformed YAML';
    throw new UsageError(`${file}:${at?.line ?? 1}:${at?.col ?? 1}: malformed YAML: ${said}`);
  }
  return doc;
}

/** The token of a context's tokenFile (`~/` is the home directory; relative paths are relative to the config file). */
export function readTokenFile(config: ConfigFile, name: string, tokenFile: string, env: Env): string {
  const file = resolvePath(config, tokenFile, env);
  const where = `${config.path}: context ${name}: tokenFile ${file}`;
  let text: string;
  try {
    if (statSync(file).size > MAX_TOKEN_FILE_BYTES)
      throw new UsageError(`${where}: larger than ${MAX_TOKEN_FILE_BYTES / 1024} KiB`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${where}: cannot read it (${errCode(err)})`);
  }
  const parsed = tokenSchema.safeParse(text.trim());
  if (!parsed.success || parsed.data === undefined)
    throw new UsageError(`${where}: must hold one token of printable ASCII without spaces`);
  return parsed.data;
}

/** A path from the config file, made absolute. */
export function resolvePath(config: ConfigFile, value: string, env: Env): string {
  if (value === '~' || value.startsWith('~/')) return path.join(home(env), value.slice(1));
  return path.resolve(path.dirname(config.path), value);
}

/** Changes the config file (comments and order kept), writing it whole with mode 0600 (directory 0700). */
export function updateConfigFile(env: Env, change: (doc: Document) => void): string {
  const file = configPath(env);
  const text = readText(file);
  const doc = text === undefined ? new Document({}) : parseConfigDocument(text.doc, file);
  if (doc.contents !== null && !isMap(doc.contents))
    throw new UsageError(`${file}: the top level must be a mapping (currentContext, contexts)`);
  change(doc);
  const checked = fileSchema.safeParse(doc.toJS() ?? {});
  if (!checked.success) {
    throw new UsageError(`${file}: not changed: ${issuesText(checked.error)}`);
  }
  const target = realTarget(file);
  mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, doc.toString(), { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new UsageError(`${file}: cannot write the config file (${errCode(err)})`);
  }
  return file;
}

/** A symlinked config (a dotfiles repo) is written where the link points. */
function realTarget(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
}
