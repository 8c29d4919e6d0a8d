import { HttpClient, readBody } from './api-client';
import { CliError } from './cli-error';
import { parseConfig } from './config';
import { retryAfterMs } from './timing';

describe('HttpClient.url', () => {
  it('joins routes under a base path and encodes queries', () => {
    const client = new HttpClient(parseConfig({ JR_API_URL: 'https://ci.example.com/jr' }));
    expect(client.url('v1/jobs', { state: 'queued', pool: undefined, limit: 5 }).href).toBe(
      'https://ci.example.com/jr/v1/jobs?state=queued&limit=5',
    );
    expect(client.url(`v1/jobs/${encodeURIComponent('../x?y=1')}`).href).toBe(
      'https://ci.example.com/jr/v1/jobs/..%2Fx%3Fy%3D1',
    );
  });
});

describe('readBody', () => {
  it('refuses answers over the cap with exit 70', async () => {
    await expect(readBody(new Response('x'.repeat(2_048)), 1_024)).rejects.toMatchObject({ exitCode: 70 });
    expect((await readBody(new Response('ok'), 1_024)).toString()).toBe('ok');
  });

  it('turns a connection dropped mid-body into exit 69', async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(new TypeError('terminated'));
        else controller.enqueue(new TextEncoder().encode('{"id":'));
        sent = true;
      },
    });
    const err = await readBody(new Response(body), 1_024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: 69 });
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, capped, and ignores junk', () => {
    expect(retryAfterMs('3', 10_000)).toBe(3_000);
    expect(retryAfterMs('3600', 10_000)).toBe(10_000);
    expect(retryAfterMs(new Date(5_000).toUTCString(), 10_000, 1_000)).toBe(4_000);
    expect(retryAfterMs('soon', 10_000)).toBeUndefined();
    expect(retryAfterMs(null, 10_000)).toBeUndefined();
    expect(retryAfterMs('-1', 10_000)).toBeUndefined();
  });
});
