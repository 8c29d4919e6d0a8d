import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, switchMap, type Observable } from 'rxjs';
import { DomainError, LIMITS } from '@jr/contracts';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { parseJsonBody } from './json-body';

export type RequestWithBody = IncomingMessage & { body?: unknown };

/** Past this we stop draining an oversized upload and drop the connection instead. */
const DRAIN_CAP_BYTES = 16 * 1024 * 1024;

/**
 * Reads JSON bodies ourselves (Nest's parser is off) so that every failure is a problem document:
 * over LIMITS.maxBodyBytes => 413, not UTF-8 or not JSON => 400, a non-JSON content type => 400.
 * An interceptor, not a middleware: Nest runs it after the guards, so a request is authenticated
 * (and rate limited) before a byte of its body is read; a refused one is answered and its connection
 * closed with the body unread (ProblemFilter). A body that stalls longer than JR_BODY_IDLE_TIMEOUT
 * between two chunks drops the connection.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<RequestWithBody>();
    const res = http.getResponse<ServerResponse>();
    return from(readBody(req, res, LIMITS.maxBodyBytes, this.config.limits.http.bodyIdleTimeoutMs)).pipe(
      switchMap((raw) => {
        req.body = parseJsonBody(raw, req.headers['content-type']);
        return next.handle();
      }),
    );
  }
}

/** True when the request announced a body that nobody has read to its end. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function readBody(req: IncomingMessage, res: ServerResponse, maxBytes: number, idleMs: number): Promise<Buffer> {
  if (!hasUnreadBody(req)) return Promise.resolve(Buffer.alloc(0));
  const declared = Number(req.headers['content-length'] ?? NaN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = (): DomainError => new DomainError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`);
    if (declared > DRAIN_CAP_BYTES) {
      res.setHeader('Connection', 'close');
      reject(tooLarge());
      return;
    }
    let idle = setTimeout(stalled, idleMs);
    function stalled(): void {
      req.socket.destroy();
      reject(new DomainError('INVALID_INPUT', `the request body stalled for over ${idleMs}ms`));
    }
    const done = (): void => clearTimeout(idle);
    req.on('data', (chunk: Buffer) => {
      clearTimeout(idle);
      idle = setTimeout(stalled, idleMs);
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > DRAIN_CAP_BYTES) req.destroy();
    });
    req.on('end', () => {
      done();
      if (size > maxBytes) reject(tooLarge());
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('close', () => {
      done();
      if (size > DRAIN_CAP_BYTES) reject(tooLarge());
    });
  });
}
