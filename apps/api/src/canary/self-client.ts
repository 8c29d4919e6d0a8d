import { X509Certificate } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Inject, Injectable } from '@nestjs/common';
import { canaryToken } from '../auth/tokens';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { SERVER_TLS, type ServerTls } from '../tls/server-tls';

const TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;

/** What a canary's job document is: a built-in no-op step, nothing to download, no secrets. */
export function canaryDocument(pool: string): object {
  return { name: `canary ${pool}`, pool, canary: true, timeout: '2m', steps: [{ name: 'noop', builtin: 'noop' }] };
}

/**
 * This replica's own REST listener, as a client sees it: POST /v1/jobs over loopback with the canaries'
 * token. Over TLS the answer must come from this replica's own certificate (its SHA-256 fingerprint is
 * pinned), so the canary proves the TLS listener too and trusts nothing else on the port.
 */
@Injectable()
export class SelfClient {
  private readonly token: string;
  private readonly fingerprint: string | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SERVER_TLS) private readonly tls: ServerTls | null,
  ) {
    this.token = canaryToken(config.adminToken);
    this.fingerprint = tls ? new X509Certificate(tls.certPem).fingerprint256 : undefined;
  }

  async submitCanary(pool: string): Promise<{ id: string } | { error: string }> {
    const body = JSON.stringify(canaryDocument(pool));
    const { status, text } = await this.post('/v1/jobs', body);
    if (status === 202 || status === 200) {
      const id = (JSON.parse(text) as { id?: unknown }).id;
      if (typeof id === 'string') return { id };
    }
    return { error: `HTTP ${status}: ${text.slice(0, 300)}` };
  }

  private post(path: string, body: string): Promise<{ status: number; text: string }> {
    const options: https.RequestOptions = {
      host: loopbackOf(this.config.bindHost),
      port: this.config.httpPort,
      path,
      method: 'POST',
      timeout: TIMEOUT_MS,
      headers: {
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
      // a fresh connection each time (no keep-alive agent): every canary proves a whole handshake
      agent: false,
      ...(this.tls ? { rejectUnauthorized: false, servername: 'localhost' } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (this.tls ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
      req.on('error', reject);
      if (!this.tls) {
        req.end(body);
        return;
      }
      // the token and body go out only once the peer has shown this replica's own certificate
      req.on('socket', (socket) =>
        socket.once('secureConnect', () => {
          if (this.isOwn(socket as TLSSocket)) req.end(body);
          else req.destroy(new Error("the listener answered with a certificate that is not this replica's"));
        }),
      );
    });
  }

  private isOwn(socket: TLSSocket): boolean {
    const peer = socket.getPeerCertificate();
    return peer !== null && typeof peer === 'object' && peer.fingerprint256 === this.fingerprint;
  }
}

/** Where this replica's listener answers on loopback. */
function loopbackOf(bindHost: string): string {
  if (bindHost === '0.0.0.0' || bindHost === '') return '127.0.0.1';
  if (bindHost === '::' || bindHost === '[::]') return '::1';
  return bindHost;
}
