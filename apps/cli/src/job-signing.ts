import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { looksLikePem, parseJobSpec, parseSigningKey, signJob, toProtoSpec, type SigningKey } from '@jr/contracts';
import { UsageError } from './cli-error';
import { signingEnvSchema } from './config';
import type { JobDocument } from './job-document';
import { say, type Io } from './output';

/** How long a signature stays valid by default (`jr submit --sign-ttl`). */
export const DEFAULT_SIGN_TTL_MS = 24 * 3_600_000;
/** The longest `--sign-ttl`: a signed job is replayable until then, so it is bounded. */
export const MAX_SIGN_TTL_MS = 30 * 24 * 3_600_000;

const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * JR_JOB_SIGNING_KEY: a path to an Ed25519 private key (PKCS#8 PEM, as `jr keys generate` writes it),
 * or the PEM text itself. Unset: undefined (jobs go unsigned). A bad key is a usage error (exit 64).
 */
export function loadSigningKey(io: Io, cwd = process.cwd()): SigningKey | undefined {
  const parsed = signingEnvSchema.safeParse(io.env);
  if (!parsed.success) throw new UsageError('JR_JOB_SIGNING_KEY: too long for a key file path or a PEM key');
  const value = parsed.data.JR_JOB_SIGNING_KEY;
  if (!value) return undefined;
  if (looksLikePem(value)) return parseKey(value, 'JR_JOB_SIGNING_KEY');
  const file = path.resolve(cwd, value);
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile() || stat.size > MAX_KEY_FILE_BYTES)
      throw new UsageError(`JR_JOB_SIGNING_KEY: ${file} is not a key file`);
    if ((stat.mode & 0o077) !== 0)
      say(io, `jr: warning: the job signing key ${file} is readable by others; chmod 600 it`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`JR_JOB_SIGNING_KEY: cannot read ${file} (${code})`);
  }
  return parseKey(text, `JR_JOB_SIGNING_KEY: ${file}`);
}

function parseKey(pem: string, where: string): SigningKey {
  try {
    return parseSigningKey(pem);
  } catch (err) {
    throw new UsageError(`${where} ${(err as Error).message}`);
  }
}

/**
 * The document with a fresh `signature`: over the job as the API will normalize it and the agent will
 * receive it (the same @jr/contracts code on all three sides). An invalid document is returned as it
 * is, for validateDocument to report.
 */
export function signDocument(doc: JobDocument, key: SigningKey, notAfterMs: number): JobDocument {
  const { signature: _old, ...unsigned } = doc;
  const parsed = parseJobSpec(unsigned);
  if (!parsed.ok) return doc;
  const notAfter = new Date(notAfterMs).toISOString();
  // secrets are signed by their digests (the agent gets the values in its lease and hashes them the same way)
  const secrets = Object.keys(parsed.secrets).length > 0 ? { secrets: parsed.secrets } : {};
  return { ...unsigned, signature: signJob({ ...toProtoSpec(parsed.job), ...secrets }, key, notAfter) };
}
