/**
 * What the agent masks in a step's output for each secret: the value and the forms a step commonly
 * prints it in. `[masked:NAME]` replaces each; the name is no secret (answers show it too).
 *
 * - the exact value, and each line of a multi-line value (PEM keys) of at least MIN_LINE characters;
 * - base64, standard and URL-safe, padded and not, and the value inside a longer base64 stream
 *   (`base64 <<< "user:$TOKEN"`): for each of the three byte alignments, the characters that depend
 *   on the value's bytes only;
 * - URL-encoded (encodeURIComponent, and the form encoding with `+` for spaces);
 * - JSON-escaped (JSON.stringify, and the ASCII-only form with `\uXXXX` that Python's json.dumps writes).
 */
export interface MaskPattern {
  bytes: Buffer;
  replacement: Buffer;
}

/** Lines of a multi-line value shorter than this are left alone (they would mask ordinary text). */
export const MIN_LINE = 6;

export const maskLabel = (name: string): string => `[masked:${name}]`;

export function buildMaskPatterns(secrets: Record<string, string>): MaskPattern[] {
  const seen = new Set<string>();
  const out: MaskPattern[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    if (value.length === 0) continue;
    const replacement = Buffer.from(maskLabel(name), 'utf8');
    for (const form of formsOf(value)) {
      if (form.length < 4 || seen.has(form)) continue;
      seen.add(form);
      out.push({ bytes: Buffer.from(form, 'utf8'), replacement });
    }
  }
  // longest first: at one position the longest form wins (the padded base64 over its unpadded prefix)
  return out.sort((a, b) => b.bytes.length - a.bytes.length);
}

function formsOf(value: string): string[] {
  const lines = value.includes('\n')
    ? value
        .split('\n')
        .map((l) => l.replace(/\r$/, ''))
        .filter((l) => l.trim().length >= MIN_LINE)
    : [];
  return [value, ...lines, ...base64Forms(Buffer.from(value, 'utf8')), ...urlForms(value), ...jsonForms(value)];
}

function base64Forms(bytes: Buffer): string[] {
  const std = bytes.toString('base64');
  const forms = [std, std.replace(/=+$/, ''), bytes.toString('base64url')];
  for (let align = 0; align < 3; align++) {
    const inner = alignedBase64(bytes, align);
    forms.push(inner, toUrlSafe(inner));
  }
  return forms.flatMap((f) => [f, toUrlSafe(f)]);
}

/**
 * The base64 characters of `bytes` preceded by `align` unknown bytes and followed by unknown bytes:
 * character i covers bits [6i, 6i+6), so it depends on the value alone when those bits lie within it.
 */
export function alignedBase64(bytes: Buffer, align: number): string {
  const encoded = Buffer.concat([Buffer.alloc(align), bytes]).toString('base64');
  const first = Math.ceil((8 * align) / 6);
  const end = Math.floor((8 * (align + bytes.length)) / 6);
  return encoded.slice(first, end);
}

const toUrlSafe = (s: string): string => s.replace(/\+/g, '-').replace(/\//g, '_');

function urlForms(value: string): string[] {
  const encoded = encodeURIComponent(value);
  return [encoded, encoded.replace(/%20/g, '+'), encoded.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())];
}

function jsonForms(value: string): string[] {
  const escaped = JSON.stringify(value).slice(1, -1);
  const ascii = escaped.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [escaped, ascii];
}
