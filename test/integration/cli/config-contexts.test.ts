import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '@jr/testing';
import { FakeApi } from './fake-api';
import { jrBin, jrIn, tempHome, type JrResult } from './harness';

let api: FakeApi;
let url: string;
let home: string;
let configFile: string;

beforeEach(async () => {
  api = new FakeApi();
  url = await api.start();
  home = tempHome();
  configFile = path.join(home, '.config', 'jr', 'config.yaml');
});

afterEach(async () => {
  await api.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

/** jr with a HOME of its own and no JR_* variables unless given. */
const jr = (argv: string[], env: Record<string, string> = {}): Promise<JrResult> =>
  jrIn(argv, { HOME: home, JR_REQUEST_TIMEOUT: '5s', ...env });

function writeConfig(text: string, mode = 0o600, file = configFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
}

/** Which token reached the fake API (it answers 401 to any other than api.token, so we read the request). */
const lastAuth = (): string | undefined => api.requests[api.requests.length - 1]?.headers.authorization;

describe('jr config: named contexts', () => {
  it('set-context, use-context and get-contexts; the current context is then used', async () => {
    const tokenFile = path.join(home, 'prod.token');
    fs.writeFileSync(tokenFile, `${api.token}\n`, { mode: 0o600 });
    const set = await jr(['config', 'set-context', 'prod', '--api-url', url, '--token-file', tokenFile]);
    expect(set).toMatchObject({ code: 0, stderr: `context prod saved in ${configFile}\n` });
    expect(fs.statSync(configFile).mode & 0o777).toBe(0o600);
    expect(
      (await jr(['config', 'set-context', 'dev', '--api-url', 'http://127.0.0.1:9', '--token', 'devtoken'])).code,
    ).toBe(0);
    expect((await jr(['list'], { JR_API_URL: `http://127.0.0.1:${await freePort()}` })).code).toBe(69); // no current context yet
    expect(api.requests).toHaveLength(0);
    expect(await jr(['config', 'use-context', 'prod'])).toMatchObject({
      code: 0,
      stderr: 'switched to context prod\n',
    });
    const list = await jr(['list']);
    expect(list.code).toBe(0);
    expect(lastAuth()).toBe(`Bearer ${api.token}`);
    const contexts = await jr(['config', 'get-contexts']);
    expect(contexts.stdout).toMatch(
      /^CURRENT\s+NAME\s+API URL\s+TOKEN\s+CA FILE\n\*\s+prod\s+http:\/\/127\.0\.0\.1:\d+\s+\S+prod\.token\s+-\n\s+dev\s+http:\/\/127\.0\.0\.1:9\s+\(in file\)\s+-\n$/,
    );
    expect(contexts.stdout).not.toContain('devtoken');
    expect(JSON.stringify(JSON.parse((await jr(['config', 'get-contexts', '--json'])).stdout))).not.toContain(
      'devtoken',
    );
    expect((await jr(['config', 'current-context'])).stdout).toBe('prod\n');
  });

  it('precedence: --api-url/--token > --context > JR_API_URL/JR_TOKEN > current context', async () => {
    writeConfig(
      `currentContext: cur\ncontexts:\n  cur:\n    apiUrl: ${url}\n    token: from-current\n  other:\n    apiUrl: ${url}\n    token: from-other\n`,
    );
    await jr(['list']);
    expect(lastAuth()).toBe('Bearer from-current');
    await jr(['list'], { JR_TOKEN: 'from-env' });
    expect(lastAuth()).toBe('Bearer from-env');
    await jr(['--context', 'other', 'list'], { JR_TOKEN: 'from-env' });
    expect(lastAuth()).toBe('Bearer from-other');
    await jr(['list', '--context', 'other', '--token', 'from-flag'], { JR_TOKEN: 'from-env' }); // flags after the command work too
    expect(lastAuth()).toBe('Bearer from-flag');
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await jr(['list', '--api-url', nowhere], { JR_API_URL: url });
    expect(unreachable).toMatchObject({ code: 69, stderr: `jr: cannot reach the API at ${nowhere}/ (ECONNREFUSED)\n` });
    const envWins = await jr(['list'], { JR_API_URL: nowhere });
    expect(envWins.stderr).toContain(nowhere);
  });

  it('the compiled jr honours $JR_CONFIG, then $XDG_CONFIG_HOME, then ~/.config', async () => {
    const xdg = path.join(home, 'xdg');
    writeConfig(
      `currentContext: x\ncontexts:\n  x:\n    apiUrl: ${url}\n    token: from-xdg\n`,
      0o600,
      path.join(xdg, 'jr', 'config.yaml'),
    );
    writeConfig(
      `currentContext: j\ncontexts:\n  j:\n    apiUrl: ${url}\n    token: from-jr-config\n`,
      0o600,
      path.join(home, 'elsewhere.yaml'),
    );
    writeConfig(`currentContext: h\ncontexts:\n  h:\n    apiUrl: ${url}\n    token: from-home\n`);
    await jrBin(['status', 'j_1'], { HOME: home });
    expect(lastAuth()).toBe('Bearer from-home');
    await jrBin(['status', 'j_1'], { HOME: home, XDG_CONFIG_HOME: xdg });
    expect(lastAuth()).toBe('Bearer from-xdg');
    await jrBin(['status', 'j_1'], { HOME: home, XDG_CONFIG_HOME: xdg, JR_CONFIG: path.join(home, 'elsewhere.yaml') });
    expect(lastAuth()).toBe('Bearer from-jr-config');
  });

  it('warns when a file other users can read holds a token, and not for a tokenFile', async () => {
    writeConfig(`currentContext: c\ncontexts:\n  c:\n    apiUrl: ${url}\n    token: ${api.token}\n`, 0o644);
    const r = await jr(['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `jr: warning: ${configFile} holds a token (context c) and other users can read it; run chmod 600 ${configFile} or use tokenFile\nno jobs\n`,
    );
    fs.writeFileSync(path.join(home, 't'), api.token);
    writeConfig(`currentContext: c\ncontexts:\n  c:\n    apiUrl: ${url}\n    tokenFile: ../../t\n`, 0o644); // relative to the config file
    const quiet = await jr(['list']);
    expect(quiet).toMatchObject({ code: 0, stderr: 'no jobs\n' });
  });

  it.each([
    ['contexts:\n  a:\n    apiUrl: [x\n', /^jr: \S+config\.yaml:\d+:\d+: malformed YAML: /],
    ['contexts:\n  a:\n    apiURL: http://x\n', /^jr: \S+config\.yaml: contexts\.a: Unrecognized key: "apiURL"\n$/],
    ['contexts:\n  a:\n    apiUrl: ftp://x\n', /^jr: \S+config\.yaml: contexts\.a\.apiUrl: must be an http\(s\) URL/],
    [
      'currentContext: b\ncontexts:\n  a: {}\n',
      /^jr: \S+config\.yaml: currentContext: names no context of this file\n$/,
    ],
    [
      'contexts:\n  a: {token: x, tokenFile: /t}\n',
      /^jr: \S+config\.yaml: contexts\.a: give token or tokenFile, not both\n$/,
    ],
    ['contexts:\n  a: {}\n  a: {}\n', /^jr: \S+config\.yaml:3:\d+: malformed YAML: Map keys must be unique/],
    [
      'currentContext: a\ncontexts:\n  a: {tokenFile: /nonexistent/jr.token}\n',
      /^jr: \S+config\.yaml: context a: tokenFile \/nonexistent\/jr\.token: cannot read it \(ENOENT\)\n$/,
    ],
    ['- just\n- a list\n', /^jr: \S+config\.yaml: \(top level\): /],
  ])('a bad file is 64 naming the file and the problem: %j', async (text, message) => {
    writeConfig(text);
    const r = await jr(['list'], { JR_API_URL: url, JR_TOKEN: api.token });
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(configFile);
    expect(api.requests).toHaveLength(0);
  });

  it('an unknown --context is 64 listing the contexts; a broken file does not break --help or completion', async () => {
    writeConfig('contexts:\n  a: {}\n  b: {}\n');
    expect(await jr(['--context', 'nope', 'list'])).toMatchObject({
      code: 64,
      stderr: `jr: no context nope in ${configFile}; contexts: a, b\n`,
    });
    expect(await jr(['config', 'use-context', 'nope'])).toMatchObject({
      code: 64,
      stderr: `jr: no context nope in ${configFile}; contexts: a, b\n`,
    });
    writeConfig('contexts: [');
    expect((await jr(['list', '--help'])).code).toBe(0);
    expect((await jr(['completion', 'bash'])).code).toBe(0);
  });

  it('set-context keeps comments and other contexts, switches token kinds, and never writes an invalid file', async () => {
    writeConfig(
      '# my contexts\ncurrentContext: a\ncontexts:\n  a:\n    apiUrl: http://a.example:8080 # primary\n    token: old\n',
    );
    expect((await jr(['config', 'set-context', 'a', '--token-file', 'rel.token'])).code).toBe(0);
    expect((await jr(['config', 'set-context', 'b', '--api-url', 'http://b.example'])).code).toBe(0);
    const text = fs.readFileSync(configFile, 'utf8');
    expect(text).toContain('# my contexts');
    expect(text).toContain('# primary');
    expect(text).not.toContain('old');
    expect(text).toContain(`tokenFile: ${path.resolve('rel.token')}`);
    expect(text).toContain('b:\n    apiUrl: http://b.example');
    expect((await jr(['config', 'set-context', 'a', '--token', 'x', '--token-file', 'y'])).code).toBe(64);
    expect((await jr(['config', 'set-context', 'bad name', '--api-url', 'http://x'])).code).toBe(64);
    expect((await jr(['config', 'set-context', 'a', '--api-url', 'ftp://x'])).code).toBe(64);
    expect(fs.readFileSync(configFile, 'utf8')).toBe(text);
    expect((await jr(['config', 'delete-context', 'a'])).code).toBe(0);
    expect(fs.readFileSync(configFile, 'utf8')).not.toMatch(/currentContext| {2}a:/);
  });

  it('a caFile must be a readable PEM bundle (64 otherwise); relative paths are relative to the config file', async () => {
    writeConfig(
      `currentContext: c\ncontexts:\n  c:\n    apiUrl: ${url}\n    token: ${api.token}\n    caFile: ca.pem\n`,
    );
    const missing = await jr(['list']);
    expect(missing).toMatchObject({
      code: 64,
      stderr: `jr: ${configFile}: context c: caFile ${path.join(path.dirname(configFile), 'ca.pem')}: cannot read it (ENOENT)\n`,
    });
    fs.writeFileSync(path.join(path.dirname(configFile), 'ca.pem'), 'not a certificate\n');
    expect((await jr(['list'])).stderr).toContain('holds no PEM certificate');
    fs.writeFileSync(
      path.join(path.dirname(configFile), 'ca.pem'),
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    );
    expect(await jr(['list'])).toMatchObject({ code: 0, stderr: 'no jobs\n' });
  });
});
