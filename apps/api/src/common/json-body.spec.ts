import { isDomainError } from '@jr/contracts';
import { parseJsonBody } from './json-body';

const JSON_TYPE = 'application/json';

function refusal(raw: Buffer): string {
  try {
    parseJsonBody(raw, JSON_TYPE);
  } catch (err) {
    if (isDomainError(err) && err.code === 'INVALID_INPUT') return err.message;
    throw err;
  }
  throw new Error('accepted');
}

describe('parseJsonBody', () => {
  it.each([
    ['a lone continuation byte', [0x80]],
    ['a truncated 2-byte sequence', [0xc3]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xff', [0xff]],
  ])('refuses invalid UTF-8 (%s) instead of turning it into U+FFFD', (_what, bytes) => {
    const raw = Buffer.concat([Buffer.from('{"steps":[{"run":"echo '), Buffer.from(bytes), Buffer.from('"}]}')]);
    expect(refusal(raw)).toBe('the request body is not valid UTF-8');
  });

  it('decodes valid UTF-8 exactly, including 4-byte sequences and a leading BOM', () => {
    expect(parseJsonBody(Buffer.from('{"run":"héllo 👋 עברית"}'), JSON_TYPE)).toEqual({ run: 'héllo 👋 עברית' });
    expect(parseJsonBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]), JSON_TYPE)).toEqual({
      a: 1,
    });
  });

  it('still refuses malformed JSON and other content types', () => {
    expect(refusal(Buffer.from('{"a":'))).toMatch(/^malformed JSON/);
    expect(() => parseJsonBody(Buffer.from('{}'), 'text/plain')).toThrow(/Content-Type/);
  });
});
