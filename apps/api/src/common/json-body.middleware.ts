import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import { DomainError, LIMITS } from '@jr/contracts';
import { parseJsonBody } from './json-body';

export type RequestWithBody = IncomingMessage & { body?: unknown };

/** Past this we stop draining an oversized upload and drop the connection instead. */
const DRAIN_CAP_BYTES = 16 * 1024 * 1024;

/**
 * Reads JSON bodies ourselves (Nest's parser is off) so that every failure is a problem document:
 * over LIMITS.maxBodyBytes => 413, not UTF-8 or not JSON => 400, a non-JSON content type => 400.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware<RequestWithBody, ServerResponse> {
  use(req: RequestWithBody, res: ServerResponse, next: (err?: unknown) => void): void {
    readBody(req, res, LIMITS.maxBodyBytes).then(
      (raw) => {
        try {
          req.body = parseJsonBody(raw, req.headers['content-type']);
          next();
        } catch (err) {
          next(err);
        }
      },
      (err: unknown) => next(err),
    );
  }
}

function readBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (req.readableEnded || (req.headers['transfer-encoding'] === undefined && !(declared > 0)))
    return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = (): DomainError => new DomainError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`);
    if (declared > DRAIN_CAP_BYTES) {
      res.setHeader('Connection', 'close');
      req.resume();
      reject(tooLarge());
      return;
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > DRAIN_CAP_BYTES) req.destroy();
    });
    req.on('end', () => (size > maxBytes ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
    req.on('close', () => (size > DRAIN_CAP_BYTES ? reject(tooLarge()) : undefined));
  });
}
