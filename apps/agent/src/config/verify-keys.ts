import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { looksLikePem, parseVerifyKeys, type VerifyKeys } from '@jr/contracts';

export type VerifyKeysResult = { ok: true; keys: VerifyKeys } | { ok: false; message: string };

/** Public key files are small; anything far larger is not one. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * JR_JOB_VERIFY_KEYS: PEM text itself (one or more `BEGIN PUBLIC KEY` blocks), or a comma-separated
 * list of files (relative to `cwd`), each holding one or more of them. Every key must be Ed25519.
 */
export function loadVerifyKeys(value: string, cwd: string): VerifyKeysResult {
  if (looksLikePem(value)) return parse(value, 'the PEM text');
  const files = value
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f.length > 0);
  if (files.length === 0) return { ok: false, message: 'must be PEM public keys or a comma-separated list of files' };
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    const full = path.resolve(cwd, file);
    let text: string;
    try {
      const buf = readFileSync(full);
      if (buf.length > MAX_KEY_FILE_BYTES) return { ok: false, message: `${full}: larger than a key file can be` };
      text = buf.toString('utf8');
    } catch (err) {
      return { ok: false, message: `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
    const one = parse(text, full);
    if (!one.ok) return one;
    for (const [id, key] of one.keys) keys.set(id, key);
  }
  return { ok: true, keys };
}

function parse(text: string, where: string): VerifyKeysResult {
  try {
    return { ok: true, keys: parseVerifyKeys(text) };
  } catch (err) {
    return { ok: false, message: `${where} ${(err as Error).message}` };
  }
}
