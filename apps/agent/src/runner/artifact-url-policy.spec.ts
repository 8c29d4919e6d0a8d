import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ArtifactCache, DownloadError } from './artifact-cache';
import {
  checkArtifactUrl,
  refusedAddress,
  STRICT_URL_POLICY,
  UrlRefusedError,
  type ArtifactUrlPolicy,
} from './artifact-url-policy';
import { guardedLookup } from './guarded-fetch';
import { tempDir } from './runner.test-helper';

const sha = (data: string): string => createHash('sha256').update(data).digest('hex');

describe('refusedAddress (default policy)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.31.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12::1', 'unique local'],
    ['100.64.0.1', 'CGNAT'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['224.0.0.1', 'multicast'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(refusedAddress(address, STRICT_URL_POLICY)).toContain(kind);
  });

  it.each(['1.1.1.1', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1'])(
    'lets %s through',
    (address) => expect(refusedAddress(address, STRICT_URL_POLICY)).toBeUndefined(),
  );

  it('lets JR_ARTIFACT_ALLOW_CIDRS ranges through, and only those', () => {
    const policy = { allowHttp: false, allowCidrs: [{ address: '10.20.0.0', prefix: 16, family: 'ipv4' as const }] };
    expect(refusedAddress('10.20.3.4', policy)).toBeUndefined();
    expect(refusedAddress('::ffff:10.20.3.4', policy)).toBeUndefined();
    expect(refusedAddress('10.21.0.1', policy)).toContain('private');
  });
});

describe('checkArtifactUrl', () => {
  it.each([
    ['http://example.com/t', /plain http .*JR_ARTIFACT_ALLOW_HTTP/],
    ['ftp://example.com/t', /scheme ftp: is not https/],
    ['file:///etc/passwd', /scheme file: is not https/],
    ['https://127.0.0.1/t', /loopback/],
    ['https://2130706433/t', /127\.0\.0\.1 is a loopback/],
    ['https://0x7f.1/t', /loopback/],
    ['https://[::ffff:169.254.169.254]/latest', /link-local/],
    ['https://169.254.169.254/latest/meta-data', /link-local .*JR_ARTIFACT_ALLOW_CIDRS/],
    ['https://10.0.0.8/t', /private/],
    ['https://user:pw@example.com/t', /credentials in the URL/],
    ['not a url', /is not a URL/],
  ])('refuses %s', (url, why) => {
    expect(() => checkArtifactUrl(url, STRICT_URL_POLICY)).toThrow(why);
  });

  it('allows https to a public name, and http only with the option', () => {
    expect(checkArtifactUrl('https://example.com/t', STRICT_URL_POLICY).host).toBe('example.com');
    expect(checkArtifactUrl('http://example.com/t', { allowHttp: true, allowCidrs: [] }).protocol).toBe('http:');
  });
});

describe('guardedLookup', () => {
  it('refuses a name that resolves to loopback (the socket would connect to what it returned)', async () => {
    const err = await new Promise<Error | null>((resolve) =>
      guardedLookup(STRICT_URL_POLICY)('localhost', { all: false }, (e) => resolve(e)),
    );
    expect(err).toBeInstanceOf(UrlRefusedError);
    expect(err?.message).toMatch(/refused localhost: it resolves to (127\.0\.0\.1|::1), a loopback address/);
  });
});

describe('ArtifactCache downloads through the policy', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: http.Server;
  let port: number;
  let hits = 0;
  const signal = new AbortController().signal;
  beforeEach(async () => {
    tmp = await tempDir('policy');
    hits = 0;
    server = http.createServer((req, res) => {
      hits++;
      if (req.url === '/to-loopback') res.writeHead(302, { location: `http://127.0.0.2:${port}/t` }).end();
      else if (req.url === '/to-name') res.writeHead(301, { location: `http://localhost:${port}/t` }).end();
      else res.end('tool');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.3', r));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await tmp.remove();
  });

  /** The server's own address (127.0.0.3) is allowed; the rest of loopback is not. */
  const MIRROR: ArtifactUrlPolicy = {
    allowHttp: true,
    allowCidrs: [{ address: '127.0.0.3', prefix: 32, family: 'ipv4' }],
  };
  const get = (url: string, policy: ArtifactUrlPolicy = MIRROR): Promise<unknown> =>
    new ArtifactCache({ cacheDir: path.join(tmp.dir, 'cache'), urlPolicy: policy })
      .get({ url, sha256: sha('tool') }, signal)
      .catch((e: unknown) => e);

  it('fetches from an allowed loopback server (the tests’ own set-up)', async () => {
    expect(await get(`http://127.0.0.3:${port}/t`)).toBe(path.join(tmp.dir, 'cache', sha('tool')));
  });

  it('refuses with the defaults before connecting: download_failed with the reason, not retried', async () => {
    const err = await get(`http://127.0.0.3:${port}/t`, STRICT_URL_POLICY);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ reason: 'download_failed', message: expect.stringMatching(/plain http/) });
    const withHttp = await get(`http://127.0.0.3:${port}/t`, { allowHttp: true, allowCidrs: [] });
    expect((withHttp as Error).message).toMatch(/127\.0\.0\.3 is a loopback address/);
    expect(hits).toBe(0);
  });

  it('re-checks every redirect: an allowed host redirecting to loopback or to a name resolving to it is refused', async () => {
    const toLoopback = await get(`http://127.0.0.3:${port}/to-loopback`);
    expect((toLoopback as Error).message).toMatch(/refused http:\/\/127\.0\.0\.2:\d+\/t: 127\.0\.0\.2 is a loopback/);
    const toName = await get(`http://127.0.0.3:${port}/to-name`);
    expect((toName as Error).message).toMatch(/refused localhost: it resolves to/);
    expect(hits).toBe(2);
  });
});
