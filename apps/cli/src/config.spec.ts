import { parseConfig } from './config';
import { UsageError } from './cli-error';

describe('parseConfig', () => {
  it('defaults to the local API and no token', () => {
    const c = parseConfig({});
    expect(c.apiUrl.href).toBe('https://127.0.0.1:8080/');
    expect(c.token).toBeUndefined();
    expect(c.requestTimeoutMs).toBe(30_000);
    expect(c.insecure).toBe(false);
  });

  it('JR_INSECURE=1 makes plain http the default; JR_CA_FILE and JR_API_CA_SHA256 are read', () => {
    expect(parseConfig({ JR_INSECURE: '1' }).apiUrl.href).toBe('http://127.0.0.1:8080/');
    const hex = 'Cd'.repeat(32);
    const c = parseConfig({ JR_CA_FILE: '/etc/jr/ca.pem', JR_API_CA_SHA256: hex });
    expect(c).toMatchObject({ caFile: '/etc/jr/ca.pem', caPin: `sha256:${hex.toLowerCase()}` });
    expect(() => parseConfig({ JR_API_CA_SHA256: 'sha256:00' })).toThrow(/JR_API_CA_SHA256/);
    const ctx = { name: 'c', explicit: false, caFile: '/ctx/ca.pem' };
    expect(parseConfig({ JR_CA_FILE: '/env/ca.pem' }, {}, ctx).caFile).toBe('/env/ca.pem');
    expect(parseConfig({}, {}, ctx).caFile).toBe('/ctx/ca.pem');
  });

  it('takes JR_TOKEN, falls back to JR_ADMIN_TOKEN, treats blank as unset', () => {
    expect(parseConfig({ JR_TOKEN: 't1', JR_ADMIN_TOKEN: 't2' }).token).toBe('t1');
    expect(parseConfig({ JR_TOKEN: '  ', JR_ADMIN_TOKEN: 't2' }).token).toBe('t2');
  });

  it('keeps a path prefix and drops query and fragment', () => {
    expect(parseConfig({ JR_API_URL: 'https://ci.example.com/jr?x=1#y', JR_REQUEST_TIMEOUT: '5s' })).toMatchObject({
      requestTimeoutMs: 5_000,
    });
    expect(parseConfig({ JR_API_URL: 'https://ci.example.com/jr?x=1#y' }).apiUrl.href).toBe(
      'https://ci.example.com/jr/',
    );
  });

  it('lists every bad variable in one message, without echoing the token', () => {
    let err: unknown;
    try {
      parseConfig({ JR_API_URL: 'ftp://x', JR_TOKEN: 'sec ret\r\nX: y', JR_REQUEST_TIMEOUT: 'forever' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).toContain('JR_API_URL');
    expect(message).toContain('JR_TOKEN');
    expect(message).toContain('JR_REQUEST_TIMEOUT');
    expect(message).not.toContain('sec ret');
    expect((err as UsageError).exitCode).toBe(64);
  });

  it('flags beat an explicit --context, which beats the environment, which beats the current context', () => {
    const env = { JR_API_URL: 'http://env.example', JR_TOKEN: 'env-token' };
    const current = { name: 'cur', explicit: false, apiUrl: 'http://ctx.example', token: 'ctx-token' };
    expect(parseConfig(env, {}, current)).toMatchObject({ token: 'env-token', apiUrl: new URL('http://env.example/') });
    expect(parseConfig({}, {}, current)).toMatchObject({ token: 'ctx-token', apiUrl: new URL('http://ctx.example/') });
    expect(parseConfig(env, {}, { ...current, explicit: true })).toMatchObject({
      token: 'ctx-token',
      apiUrl: new URL('http://ctx.example/'),
    });
    expect(
      parseConfig(env, { apiUrl: 'http://flag.example/x', token: 'flag-token' }, { ...current, explicit: true }),
    ).toMatchObject({ token: 'flag-token', apiUrl: new URL('http://flag.example/x/') });
    expect(
      parseConfig({ JR_ADMIN_TOKEN: 'admin' }, {}, { name: 'c', explicit: false, apiUrl: 'http://ctx.example' }).token,
    ).toBe('admin');
  });

  it('a bad flag is named like a bad variable, without echoing the token', () => {
    expect(() => parseConfig({}, { apiUrl: 'ftp://x', token: 'a b' })).toThrow(
      /--api-url: must be an http\(s\) URL.*--token: must be printable ASCII/,
    );
    expect(() => parseConfig({}, { token: 'a b' })).not.toThrow(/a b/);
  });
});
