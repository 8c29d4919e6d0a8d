import { bearerToken, ExpectedToken, hashSecret, parseAgentCredential, secretMatches, tokensEqual } from './tokens';

describe('bearer tokens', () => {
  const token = 'admin-secret-123';

  it('takes the token of an Authorization: Bearer header', () => {
    expect(bearerToken(`Bearer ${token}`)).toBe(token);
    expect(bearerToken(`bearer   ${token}`)).toBe(token);
  });

  it.each([undefined, '', `Basic ${token}`, 'Bearer', `Bearer ${'x'.repeat(10_000)}`, `Bearer ${token} extra`])(
    'finds none in %j',
    (header) => expect(bearerToken(header)).toBeUndefined(),
  );

  it('matches the expected token in constant time, whatever the lengths', () => {
    const expected = new ExpectedToken(token);
    expect(expected.matches(token)).toBe(true);
    expect(expected.matches(`${token}x`)).toBe(false);
    expect(expected.matches(token.slice(0, -1))).toBe(false);
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
