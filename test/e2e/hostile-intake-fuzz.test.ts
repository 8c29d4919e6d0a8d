import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { isTerminal, type JobView } from '@jr/contracts';
import { Stack, waitFor } from '@jr/testing';

// Fuzzing intake with a real jr-api and a real jr-agent. The invariant is the product's first promise:
// every job answered 2xx is later visible (GET 200) and runs to a terminal state; accepted-then-lost is
// 0; nothing is quarantined; nothing is answered 5xx; and a good job after the burst still runs.
describe('hostile input at intake loses nothing acknowledged', () => {
  const stack = new Stack('1s');

  beforeAll(async () => {
    await stack.start();
    await stack.startAgent('fuzz-a', { slots: 4 });
  });

  afterAll(() => stack.close());

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
  });

  /** Pieces of text, odd but storable and hostile: lone surrogates, NUL, controls, emoji, RTL, long runs. */
  const piece = fc.oneof(
    fc.constantFrom('\ud800', '\udfff', '\udc00\ud800', 'a\u0000b', '\u0000'),
    fc.integer({ min: 1, max: 31 }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('👋🏽', '𝄞', 'עברית', '\u202eRTL\u202c', 'e\u0301', '\ufeff', '\u2028', '%s%n', '$(id)', '\'"`\\'),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.string({ maxLength: 12 }),
    fc.constant('x'.repeat(20_000)),
  );
  const text = fc.array(piece, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));

  /** Steps that only print their (hostile) input: the run itself is never the fuzzed text. */
  const step = fc.oneof(
    text.map((s) => ({ run: ['printf', '%s\n', s] })),
    fc.record({ name: fc.constantFrom('build', 'step two', 'x.y-z_1'), run: text.map((s) => ['printf', '%s\n', s]) }),
    fc.constant({ run: 'printf "%s\\n" "$MSG"' }),
    fc.record({ run: fc.constant('true'), timeout: fc.constantFrom('5m', 30, '1h') }),
  );
  /** Documents that are legal unless their (hostile) text is not storable: those must all run. */
  const plausible = fc.record(
    {
      name: fc.constantFrom('fuzz', 'Fuzz job 1', 'a.b-c_d'),
      env: fc.dictionary(fc.constantFrom('MSG', 'A_B', 'X1'), text, { maxKeys: 3 }),
      retries: fc.integer({ min: 0, max: 2 }),
      steps: fc.array(step, { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: ['steps'] },
  );
  /** Anything goes: hostile text in every field, labels no agent has, and always an unknown field (so never runnable). */
  const wild = fc.record(
    {
      name: text,
      pool: text,
      env: fc.dictionary(text, text, { maxKeys: 3 }),
      labels: fc.dictionary(text, text, { minKeys: 1, maxKeys: 2 }),
      steps: fc.array(fc.oneof(step, fc.record({ name: text, run: fc.constant('true'), timeout: text })), {
        minLength: 1,
        maxLength: 3,
      }),
      extra: fc.jsonValue({ maxDepth: 3 }),
    },
    { requiredKeys: ['steps', 'extra'] },
  );
  const doc = fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 2, arbitrary: wild });

  /** A request body: a document, or raw bytes with duplicate keys, hostile escapes, invalid UTF-8 or deep nesting. */
  const body = fc.oneof(
    { weight: 6, arbitrary: doc.map((d) => Buffer.from(JSON.stringify(d))) },
    {
      weight: 1,
      arbitrary: text.map((s) =>
        Buffer.from(`{"steps":[{"run":"true"}],"steps":[{"run":["printf","%s\\n",${JSON.stringify(s)}]}]}`),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('\\ud800', '\\u0000', '\\udfff\\ud800')
        .map((e) => Buffer.from(`{"steps":[{"run":["printf","%s","${e}"]}]}`)),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 4 })
        .map((bad) =>
          Buffer.concat([
            Buffer.from('{"steps":[{"run":["printf","%s","'),
            Buffer.from([0xff, 0xc0, ...bad]),
            Buffer.from('"]}]}'),
          ]),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 20, max: 5_000 })
        .map((n) => Buffer.from(`{"steps":[{"run":${'['.repeat(n)}${']'.repeat(n)}}]}`)),
    },
  );
  /** Keys fetch can send (printable ASCII); a key too long for the API is refused by it. */
  const keyChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
  const idempotencyKey = fc.option(
    fc.oneof(fc.string({ unit: keyChar, minLength: 1, maxLength: 40 }), fc.constant('k'.repeat(201))),
    { nil: undefined },
  );

  async function post(raw: Buffer, key: string | undefined): Promise<{ status: number; id?: string }> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${stack.adminToken}`,
      'content-type': 'application/json',
    };
    if (key !== undefined) headers['idempotency-key'] = key;
    const res = await stack.fetch('/v1/jobs', { method: 'POST', headers, body: raw });
    const answer = (await res.json()) as { id?: string };
    return { status: res.status, ...(res.ok && answer.id ? { id: answer.id } : {}) };
  }

  it('accepts or refuses every request cleanly, and runs every job it accepted', async () => {
    const accepted = new Set<string>();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, idempotencyKey, async (raw, key) => {
        const r = await post(raw, key);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.id) accepted.add(r.id);
        expect([200, 202, 400, 409, 413]).toContain(r.status);
      }),
      { numRuns: 300, endOnFailure: true },
    );
    // a good job after the burst is queued and run like any other
    const good = await post(
      Buffer.from(JSON.stringify({ name: 'after-the-burst', steps: [{ run: ['printf', '%s\n', 'still here'] }] })),
      undefined,
    );
    expect(good.status).toBe(202);
    accepted.add(good.id as string);

    const hostile = [...statuses.entries()].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
    expect(hostile).toBeGreaterThan(100); // the burst really was mostly hostile
    expect(accepted.size).toBeGreaterThan(10); // and odd-but-legal documents got through

    const lost: string[] = [];
    const ended = await waitFor(
      async () => {
        lost.length = 0;
        const views: JobView[] = [];
        for (const id of accepted) {
          const res = await stack.fetch(`/v1/jobs/${id}`, {
            headers: { authorization: `Bearer ${stack.adminToken}` },
          });
          if (res.status === 404) lost.push(id);
          else views.push((await res.json()) as JobView);
        }
        return lost.length === 0 && views.every((v) => isTerminal(v.state)) ? views : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 1_000,
        what: `${accepted.size} accepted jobs to end (statuses ${JSON.stringify([...statuses])})`,
      },
    ).catch((err: unknown) => {
      expect(lost).toEqual([]); // accepted-then-lost: must be none
      throw err;
    });
    expect(ended.filter((v) => v.state !== 'succeeded').map((v) => `${v.id} ${v.state} ${v.reason}`)).toEqual([]);
    expect(await stack.logs(good.id as string)).toContain('still here');
    const quarantine = path.join(stack.dir, 'api', 'quarantine');
    expect(fs.existsSync(quarantine) ? fs.readdirSync(quarantine) : []).toEqual([]);
  });
});
