import { DomainError } from '@jr/contracts';

/** fatal: invalid UTF-8 is refused, never silently replaced by U+FFFD; a leading BOM is dropped. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Undefined for an empty body; the parsed JSON otherwise. */
export function parseJsonBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw bodyError(`Content-Type must be application/json (got ${JSON.stringify(type.slice(0, 100)) || 'none'})`);
  }
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw bodyError('the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw bodyError(`malformed JSON: ${err instanceof Error ? err.message.slice(0, 200) : 'unparseable'}`);
  }
}

/** Invalid input like any other: the problem document's `errors` names the body itself. */
function bodyError(message: string): DomainError {
  return new DomainError('INVALID_INPUT', message, { errors: [{ path: '(body)', message }] });
}
