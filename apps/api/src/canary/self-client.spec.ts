import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueServerCert, type CertAndKey } from '@jr/pki';
import type { AppConfig } from '../config/app-config';
import type { ServerTls } from '../tls/server-tls';
import { SelfClient } from './self-client';

// The canaries' client talks to this replica's own listener only: a listener on the port with another
// certificate gets no request at all (not the token, not the body), and its own gets both.
describe('SelfClient', () => {
  let own: CertAndKey;
  let other: CertAndKey;
  beforeAll(async () => {
    const ca = await createCa({ commonName: 'self-client test CA', validityDays: 1 });
    own = await issueServerCert(ca, { sans: ['localhost', '127.0.0.1'], validityDays: 1 });
    other = await issueServerCert(ca, { sans: ['localhost', '127.0.0.1'], validityDays: 1 });
  });

  async function against(served: CertAndKey): Promise<{ answer: unknown; requests: string[] }> {
    const requests: string[] = [];
    const server = https.createServer({ cert: served.certPem, key: served.keyPem }, (req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization?.slice(0, 11) ?? ''}`);
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"j_canary"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const config = {
        bindHost: '127.0.0.1',
        httpPort: (server.address() as AddressInfo).port,
        adminToken: 'x'.repeat(32),
      };
      const tls = { certPem: own.certPem, keyPem: own.keyPem } as ServerTls;
      const answer = await new SelfClient(config as AppConfig, tls).submitCanary('web').catch((e: Error) => e.message);
      return { answer, requests };
    } finally {
      server.close();
    }
  }

  it('submits to its own listener with the canary token', async () => {
    expect(await against(own)).toEqual({ answer: { id: 'j_canary' }, requests: ['POST /v1/jobs Bearer jrc_'] });
  });

  it('sends nothing to a listener with another certificate', async () => {
    const r = await against(other);
    expect(r.requests).toEqual([]);
    expect(r.answer).toMatch(/not this replica's/);
  });
});
