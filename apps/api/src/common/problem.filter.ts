import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { LOGGER, type Logger } from './logger';
import { toProblemResponse } from './problem';

/** Every REST error leaves as an RFC 9457 problem document: 404 routes, validation, 500s alike. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const { status, problem, headers } = toProblemResponse(err);
    if (status >= 500 && problem.code === 'INTERNAL') this.log.error({ err }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(status, { ...headers, 'Content-Type': 'application/problem+json' }).end(JSON.stringify(problem));
  }
}
