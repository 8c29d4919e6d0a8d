import { InvalidArgumentError } from 'commander';
import { parseScopes, parseTokenName, parseTtl } from './tokens.command';

describe('jr tokens create flags', () => {
  it('takes scopes comma-separated and repeated, each once, in order', () => {
    expect(parseScopes('jobs:submit,jobs:read')).toEqual(['jobs:submit', 'jobs:read']);
    expect(parseScopes('jobs:read, metrics:read', ['jobs:read'])).toEqual(['jobs:read', 'metrics:read']);
  });

  it.each(['', 'jobs:*', 'admin', 'jobs:read,', 'JOBS:READ'])('refuses the scope list %j', (value) =>
    expect(() => parseScopes(value)).toThrow(InvalidArgumentError),
  );

  it('takes lifetimes from 1m to 366d', () => {
    expect(parseTtl('30d')).toBe('30d');
    expect(parseTtl('1m')).toBe('1m');
    for (const bad of ['59s', '367d', 'forever', '-1h']) expect(() => parseTtl(bad)).toThrow(InvalidArgumentError);
  });

  it('refuses names with control characters or over 100 characters', () => {
    expect(parseTokenName('ci deploy (web)')).toBe('ci deploy (web)');
    for (const bad of ['', 'a\u0000b', 'tab\there', 'x'.repeat(101), 'é']) expect(() => parseTokenName(bad)).toThrow();
  });
});
