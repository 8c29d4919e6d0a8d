import type { IncomingMessage, ServerResponse } from 'node:http';
import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { IntakeService } from './intake.service';

@Controller('v1/jobs')
export class IntakeController {
  constructor(private readonly intake: IntakeService) {}

  /** 202 {id, state} once durable; 200 for a repeated Idempotency-Key. */
  @Post()
  async submit(@Body() body: unknown, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    const { status, result } = await this.intake.submit(body, req.headers['idempotency-key'], {
      traceparent: req.headers.traceparent,
      tracestate: req.headers.tracestate,
    });
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(result));
  }
}
