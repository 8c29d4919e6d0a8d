/**
 * Text Postgres can store. `text` and `jsonb` refuse NUL (U+0000); `jsonb` refuses an unpaired UTF-16
 * surrogate ("\ud800", legal in a JS string and in a JSON escape, not Unicode text) and `text` would
 * silently turn it into U+FFFD. Input holding either is refused at the edge, where the caller can
 * still be told, instead of being acknowledged and then failing to apply.
 */

/** `String.prototype.isWellFormed` (ES2024; Node >= 20), typed here while the build targets ES2023. */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** Why `s` cannot be stored, or undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  if (s.includes('\0')) return 'contains NUL (U+0000), which cannot be stored';
  if (!isWellFormed(s)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode text)';
  return undefined;
}

/** `s` with NUL, other C0 controls and unpaired surrogates escaped, safe to print in an error. */
export function printable(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return cut.replace(
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped here
    /[\u0000-\u001f\u007f]|[\ud800-\udfff]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export interface TextIssue {
  path: string;
  message: string;
}

/**
 * Every string of `value` (object keys included) that cannot be stored, by path. Byte arrays (log data)
 * are not text and are skipped; nesting past `maxDepth` is left to the caller's depth rule.
 */
export function unstorableStrings(value: unknown, path: readonly string[] = [], maxDepth = 32): TextIssue[] {
  const here = (): string => path.join('.') || '(root)';
  if (typeof value === 'string') {
    const why = unstorableReason(value);
    return why ? [{ path: here(), message: why }] : [];
  }
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || path.length > maxDepth) return [];
  const issues: TextIssue[] = [];
  for (const key of Object.keys(value)) {
    const keyWhy = unstorableReason(key);
    const at = [...path, printable(key)];
    if (keyWhy) issues.push({ path: at.join('.'), message: `the key ${keyWhy}` });
    else issues.push(...unstorableStrings((value as Record<string, unknown>)[key], at, maxDepth));
    if (issues.length >= 20) break;
  }
  return issues;
}
