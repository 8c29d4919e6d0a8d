import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasUnreadBody } from './json-body.interceptor';
import { LOGGER, type Logger } from './logger';
import { toProblemResponse } from './problem';

/** Every REST error leaves as an RFC 9457 problem document: 404 routes, validation, 500s alike. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const req = host.switchToHttp().getRequest<IncomingMessage>();
    const { status, problem, headers } = toProblemResponse(err);
    if (status >= 500 && problem.code === 'INTERNAL') this.log.error({ err }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    // refused before its body was read (401, 403, 429, 404…): answer, then close rather than drain it
    if (hasUnreadBody(req)) res.setHeader('Connection', 'close');
    res.writeHead(status, { ...headers, 'Content-Type': 'application/problem+json' }).end(JSON.stringify(problem));
  }
}
