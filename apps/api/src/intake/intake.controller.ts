import type { IncomingMessage, ServerResponse } from 'node:http';
import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { Audited } from '../audit/audit.decorator';
import { actorOf } from '../audit/audit.service';
import { Caller, type Principal } from '../auth/principal';
import { RequireScope } from '../auth/scope.decorator';
import { IntakeService } from './intake.service';

@Controller('v1/jobs')
export class IntakeController {
  constructor(private readonly intake: IntakeService) {}

  /** 202 {id, state} once durable; 200 for a repeated Idempotency-Key. The audit row rides in the journal record. */
  @Post()
  @RequireScope('jobs:submit')
  @Audited({ action: 'jobs.submit', recordedBy: 'intake' })
  async submit(
    @Body() body: unknown,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Caller() caller: Principal,
  ): Promise<void> {
    const trace = { traceparent: req.headers.traceparent, tracestate: req.headers.tracestate };
    const { status, result } = await this.intake.submit(body, req.headers['idempotency-key'], trace, {
      actor: actorOf(caller),
      onlyPool: caller.pool,
      canary: caller.kind === 'canary',
    });
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(result));
  }
}
