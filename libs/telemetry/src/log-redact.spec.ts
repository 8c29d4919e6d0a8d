import { Writable } from 'node:stream';
import pino from 'pino';
import { LOG_REDACT } from './log-redact';

function capture(): { logger: pino.Logger; lines: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: pino({ redact: { ...LOG_REDACT, paths: [...LOG_REDACT.paths] } }, stream),
    lines: () => chunks.join(''),
  };
}

describe('LOG_REDACT', () => {
  it('censors credentials, tokens and secrets at the top level and two levels down', () => {
    const { logger, lines } = capture();
    logger.info({ authorization: 'Bearer top-level-1' }, 'a');
    logger.info({ req: { headers: { authorization: 'Bearer nested-2', cookie: 'sid=nested-3' } } }, 'b');
    logger.info({ job: { secrets: { DEPLOY_TOKEN: 'nested-4' } }, enrollToken: 'top-5', credential: 'top-6' }, 'c');
    logger.info({ config: { adminToken: 'nested-7', secretsKeys: [{ id: 'k1', key: 'nested-8' }] } }, 'd');
    logger.info({ res: { leaseToken: 'nested-9', token: 'nested-10' } }, 'e');
    const text = lines();
    expect(text.match(/\[redacted\]/g)?.length).toBe(10);
    for (let i = 1; i <= 10; i++) expect(text).not.toMatch(new RegExp(`-${i}\\b`));
    expect(text).toContain('"msg":"e"');
  });
});
