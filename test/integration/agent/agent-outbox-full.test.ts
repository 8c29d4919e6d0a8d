import { newGate, waitFor } from '@jr/testing';
import type { AgentHandle } from '../../../apps/agent/src/agent';
import { shell, spec, useAgentFixture } from './agent-harness';

jest.setTimeout(90_000);

/**
 * A big outbox: a job floods its output while the API is unreachable. Under the cap everything is
 * kept and drains in order (the drain rate is printed for the record); over the cap the oldest
 * output gives way to a gap marker, and statuses and the outcome survive.
 */
describe('a large outbox', () => {
  const f = useAgentFixture({ proxy: true });

  /** Runs `script` with the API cut off (after its first line), until its outcome is queued. */
  async function floodWhileDisconnected(
    env: Record<string, string>,
    script: string,
  ): Promise<{ a: AgentHandle; jobId: string }> {
    const { agent: a } = await f.start({
      JR_BREAKER_THRESHOLD: '1',
      JR_BREAKER_MIN_OUTAGE: '0s',
      JR_REPORT_TIMEOUT: '300ms',
      ...env,
    });
    const gate = newGate();
    const jobId = f.api.enqueue(
      spec([
        shell(`echo hello; ${gate.wait}`, { name: 'first' }),
        shell(script, { name: 'flood' }),
        shell('echo bye', { name: 'last' }),
      ]),
    );
    await waitFor(() => f.api.output(jobId).includes('hello'), { timeoutMs: 10_000 });
    f.proxy.setMode({ kind: 'reset' });
    gate.open();
    await waitFor(() => a.metrics().attempts.undelivered === 1 && a.metrics().reporting?.breaker.state === 'open', {
      timeoutMs: 60_000,
      what: 'the outcome queued, breaker open',
    });
    f.proxy.setMode({ kind: 'pass' });
    await waitFor(() => f.api.heartbeats.some((h) => h.req.state?.breakerState === 'open'), { timeoutMs: 20_000 });
    return { a, jobId };
  }

  it('keeps 32 MB of output under the cap and drains it in order (drain rate printed)', async () => {
    const lines = 320_000;
    const { a, jobId } = await floodWhileDisconnected({}, `seq 1 ${lines} | awk '{ printf "%099d\\n", $1 }'`);
    const depth = a.metrics().reporting?.outbox.depth ?? 0;
    const bytes = a.metrics().reporting?.outbox.bytes ?? 0;
    const started = Date.now();
    await a.enableReporting('control');
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 60_000, what: 'the drain' });
    const ms = Date.now() - started;
    console.log(
      `outbox drain: ${depth} events, ${(bytes / 1e6).toFixed(1)} MB in ${ms} ms = ${Math.round((depth * 1000) / ms)} events/s, ${(((bytes / 1e6) * 1000) / ms).toFixed(1)} MB/s`,
    );
    const out = f.api.output(jobId).split('\n');
    expect(out[0]).toBe('hello');
    expect(out.slice(1, -2)).toHaveLength(lines);
    expect(out[1]).toBe('1'.padStart(99, '0'));
    expect(out[lines]).toBe(String(lines).padStart(99, '0'));
    expect(out.slice(-2)).toEqual(['bye', '']);
    expect(f.api.events(jobId).map((e) => e.seq)).toEqual(
      Array.from({ length: f.api.completion(jobId)?.lastSeq ?? 0 }, (_v, i) => i + 1),
    );
    expect(a.metrics().reporting?.outbox.gapBytes).toBe(0);
  });

  it('past the cap, replaces the oldest output by a gap marker; every status and the outcome survive', async () => {
    const { a, jobId } = await floodWhileDisconnected(
      { JR_OUTBOX_MAX_BYTES: String(1024 * 1024) },
      `seq 1 100000 | awk '{ printf "%099d\\n", $1 }'`,
    );
    const gapBytes = a.metrics().reporting?.outbox.gapBytes ?? 0;
    expect(gapBytes).toBeGreaterThan(5_000_000);
    // "Never larger than the cap for long": while a compaction runs, the old generation and the writes
    // waiting for the new one are both counted (under CI load that was seen at 1.5 MB), so the check
    // waits for the compaction in progress to end instead of sampling the moment the outcome queued.
    await waitFor(() => (a.metrics().reporting?.outbox.diskBytes ?? Infinity) <= 1.25 * 1024 * 1024, {
      timeoutMs: 10_000,
      what: 'the outbox back under its cap',
    });
    await a.enableReporting('signal');
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 30_000, what: 'the drain' });
    const text = f.api.output(jobId);
    const marker =
      /\[jr-agent: (\d+) bytes of output dropped here: the agent's outbox was full while the API could not be reached\]/g;
    const dropped = [...text.matchAll(marker)].reduce((n, m) => n + Number(m[1]), 0);
    // The markers the API received account for what the agent counts as dropped. A chunk already sent
    // is never merged into a marker any more (the API would keep it and drop the marker's duplicate
    // seq, which once left the counter 6 bytes above the markers); the check keeps a 0.01 % margin
    // until enough runs show it exact. The promise itself (nothing dropped silently) is exact, below.
    expect(Math.abs(dropped - gapBytes)).toBeLessThanOrEqual(Math.ceil(gapBytes / 10_000));
    // The newest output is kept, up to the last line.
    expect(text).toContain(`${'100000'.padStart(99, '0')}\nbye\n`);
    // No silent drop: the flood step's bytes are exactly what arrived plus what the markers count.
    const chunks = f.api
      .events(jobId)
      .filter((e) => e.log?.step === 1)
      .map((e) => e.log?.data.toString('utf8') ?? '');
    const kept = chunks
      .filter((c) => !/^\n\[jr-agent: \d+ bytes of output dropped/.test(c))
      .reduce((n, c) => n + c.length, 0);
    expect(kept + dropped).toBe(100_000 * 100);
    const steps = f.api
      .events(jobId)
      .filter((e) => e.stepStarted || e.stepFinished)
      .map((e) => `${e.kind}:${e.stepStarted?.step ?? e.stepFinished?.step}`);
    expect(steps).toEqual([
      'stepStarted:0',
      'stepFinished:0',
      'stepStarted:1',
      'stepFinished:1',
      'stepStarted:2',
      'stepFinished:2',
    ]);
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    const seqs = f.api.events(jobId).map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });
});
