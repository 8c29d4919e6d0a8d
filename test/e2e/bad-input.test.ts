import { Stack, freePort, runCli } from '@jr/testing';

// Hostile and malformed input gets a clear problem document, and the API keeps serving.
describe('bad input at the edges', () => {
  const stack = new Stack('1s');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  const post = (body: string, headers: Record<string, string> = {}): Promise<Response> =>
    stack.fetch('/v1/jobs', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json', ...headers },
      body,
    });

  async function expectProblem(res: Response, status: number): Promise<Record<string, unknown>> {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      status,
      title: expect.any(String),
      type: expect.any(String),
      detail: expect.any(String),
    });
    return doc;
  }

  it('refuses malformed JSON with 400', async () => {
    await expectProblem(await post('{"steps": [ {"run": "true"} '), 400);
  });

  it('refuses unknown fields with 400 naming them', async () => {
    const doc = await expectProblem(await post(JSON.stringify({ steps: [{ run: 'true' }], priority: 9 })), 400);
    expect(JSON.stringify(doc)).toContain('priority');
  });

  it('refuses wrong types and empty steps with 400', async () => {
    await expectProblem(await post(JSON.stringify({ steps: 'true' })), 400);
    await expectProblem(await post(JSON.stringify({ steps: [] })), 400);
    await expectProblem(await post(JSON.stringify(null)), 400);
  });

  it('refuses an oversized body with 413', async () => {
    const huge = JSON.stringify({ steps: [{ run: 'x'.repeat(2 * 1024 * 1024) }] });
    await expectProblem(await post(huge), 413);
  });

  it('refuses a missing or wrong token with 401', async () => {
    const none = await stack.fetch('/v1/jobs');
    await expectProblem(none, 401);
    const wrong = await stack.fetch('/v1/jobs', { headers: { authorization: 'Bearer nope' } });
    await expectProblem(wrong, 401);
  });

  it('keeps serving after all of that', async () => {
    expect((await stack.fetch('/healthz')).status).toBe(200);
    const ok = await post(JSON.stringify({ steps: [{ run: 'true' }] }));
    expect(ok.status).toBe(202);
    expect(stack.api.running).toBe(true);
  });

  it('maps auth refusal to exit 77 and an unreachable API to exit 69 in the CLI', async () => {
    expect((await stack.cli(['list'], { JR_TOKEN: 'wrong' })).code).toBe(77);
    const port = await freePort();
    const r = await runCli(['list'], { JR_API_URL: `http://127.0.0.1:${port}`, JR_TOKEN: 'x' });
    expect(r.code).toBe(69);
    expect(r.stderr.split('\n').filter(Boolean).length).toBeLessThanOrEqual(2);
  });
});
