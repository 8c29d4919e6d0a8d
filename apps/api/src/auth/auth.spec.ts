import { checkAdminToken } from './admin-auth';
import { bearerToken, hashSecret, parseAgentCredential, secretMatches, tokensEqual } from './tokens';

describe('admin bearer check', () => {
  const token = 'admin-secret-123';

  it('accepts the configured token', () => {
    expect(() => checkAdminToken(`Bearer ${token}`, token)).not.toThrow();
    expect(() => checkAdminToken(`bearer   ${token}`, token)).not.toThrow();
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    [`Basic ${token}`, 'missing'],
    ['Bearer', 'missing'],
    [`Bearer ${token}x`, 'invalid'],
    [`Bearer ${token.slice(0, -1)}`, 'invalid'],
    [`Bearer ${'x'.repeat(10_000)}`, 'missing'],
    [`Bearer ${token} extra`, 'missing'],
  ])('refuses %j with UNAUTHENTICATED (%s)', (header, why) => {
    expect(() => checkAdminToken(header, token)).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED', message: expect.stringContaining(why) }),
    );
  });

  it('compares tokens of different lengths without throwing', () => {
    expect(tokensEqual('a', 'abcdef')).toBe(false);
    expect(tokensEqual('abcdef', 'abcdef')).toBe(true);
  });

  it('takes the first of repeated headers', () => {
    expect(bearerToken(['Bearer one', 'Bearer two'])).toBe('one');
  });
});

describe('agent credentials', () => {
  it('parses <agentId>.<secret> and checks the secret against its hash', () => {
    const cred = parseAgentCredential(`a_${'b'.repeat(20)}.${'s'.repeat(43)}`);
    expect(cred).toEqual({ agentId: `a_${'b'.repeat(20)}`, secret: 's'.repeat(43) });
    const stored = hashSecret('s'.repeat(43));
    expect(secretMatches('s'.repeat(43), stored)).toBe(true);
    expect(secretMatches('t'.repeat(43), stored)).toBe(false);
    expect(secretMatches('s', 'not-hex')).toBe(false);
  });

  it.each([
    '',
    'a_short.secret',
    `a_${'b'.repeat(20)}`,
    `a_${'b'.repeat(20)}.`,
    `x_${'b'.repeat(20)}.${'s'.repeat(43)}`,
    `a_${'b'.repeat(20)}.${'s'.repeat(43)}\n`,
  ])('refuses malformed credential %j', (token) => expect(parseAgentCredential(token)).toBeUndefined());
});
