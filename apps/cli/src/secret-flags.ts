import { promises as fs } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { LIMITS } from '@jr/contracts';
import { UsageError } from './cli-error';
import type { Pair } from './options';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** `--secret NAME=VALUE` (value on the command line) or `--secret NAME` (value from this process's environment). */
export interface SecretFlag {
  name: string;
  value?: string;
}

/** `--secret-file NAME=PATH`. */
export interface SecretFileFlag {
  name: string;
  path: string;
}

function secretName(name: string, flag: string): string {
  if (!NAME_RE.test(name))
    throw new InvalidArgumentError(`${flag} names are letters, digits and _, not starting with a digit.`);
  return name;
}

export function parseSecretFlag(value: string): SecretFlag {
  const eq = value.indexOf('=');
  if (eq === -1) return { name: secretName(value, '--secret') };
  return { name: secretName(value.slice(0, eq), '--secret'), value: value.slice(eq + 1) };
}

export function parseSecretFileFlag(value: string): SecretFileFlag {
  const eq = value.indexOf('=');
  if (eq === -1 || eq === value.length - 1) throw new InvalidArgumentError('expected NAME=PATH.');
  return { name: secretName(value.slice(0, eq), '--secret-file'), path: value.slice(eq + 1) };
}

export function collectSecret<T>(parse: (v: string) => T) {
  return (value: string, previous: readonly T[] | undefined): T[] => [...(previous ?? []), parse(value)];
}

/**
 * The secret values of the flags, in order (a later name wins when the document is built). Messages
 * name the secret, never its value. `inline` is told which names were given with their value on the
 * command line (visible in `ps` and shell history).
 */
export async function resolveSecretFlags(
  flags: { secret?: readonly SecretFlag[]; secretFile?: readonly SecretFileFlag[] },
  env: Record<string, string | undefined>,
  inline: (names: string[]) => void,
): Promise<Pair[]> {
  const out: Pair[] = [];
  const shown: string[] = [];
  for (const f of flags.secret ?? []) {
    if (f.value !== undefined) shown.push(f.name);
    const value = f.value ?? env[f.name];
    if (value === undefined || value === '')
      throw new UsageError(`--secret ${f.name}: ${f.name} is not set in this environment (or give NAME=VALUE)`);
    out.push([f.name, value]);
  }
  for (const f of flags.secretFile ?? []) out.push([f.name, await readSecretFile(f)]);
  if (shown.length > 0) inline(shown);
  return out;
}

/** The file's text, without one trailing newline (what `echo … > file` adds). */
async function readSecretFile(f: SecretFileFlag): Promise<string> {
  const limit = LIMITS.maxSecretValueBytes + 2;
  let buffer: Buffer;
  try {
    const stat = await fs.stat(f.path);
    if (!stat.isFile()) throw new UsageError(`--secret-file ${f.name}: ${f.path} is not a regular file`);
    if (stat.size > limit)
      throw new UsageError(`--secret-file ${f.name}: larger than ${LIMITS.maxSecretValueBytes} bytes`);
    buffer = await fs.readFile(f.path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `--secret-file ${f.name}: cannot read ${f.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (buffer.length > limit)
    throw new UsageError(`--secret-file ${f.name}: larger than ${LIMITS.maxSecretValueBytes} bytes`);
  const text = buffer.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(buffer)) throw new UsageError(`--secret-file ${f.name}: not UTF-8 text`);
  return text.replace(/\r?\n$/, '');
}
