import { fakeCli } from './fake-cli.spec-helper';

const { api, jr, sleeps } = fakeCli();

const A2 = 'a_0000000000000000web2';

function fleetView(
  byState: Record<string, number> = { running: 1, pending: 1, succeeded: 1 },
  state = 'running',
): unknown {
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  return { id: 'j_f', state, attempts: [], exitCode: null, targets: { total, byState, batch: 1, aborted: false } };
}

function target(name: string, agentId: string, state: string, jobId: string | null): Record<string, unknown> {
  return { agentId, name, state, exitCode: null, batch: jobId ? 1 : null, jobId, startedAt: null, endedAt: null };
}

const page = (...items: unknown[]): [number, unknown] => [200, { items, nextCursor: null }];
const web1 = target('web-1', 'a_0000000000000000web1', 'succeeded', 'j_run1');
const web2 = target('web-2', A2, 'running', 'j_run2');
const web3 = target('web-3', 'a_0000000000000000web3', 'pending', null);

describe('jr logs ID --target', () => {
  beforeEach(() => {
    api.routes = {
      'GET /v1/jobs/j_f': [200, fleetView()],
      'GET /v1/jobs/j_f/targets?limit=500': page(web1, web2, web3),
      'GET /v1/jobs/j_run2/logs?markers=1': [200, '--- step 1/1: step-1 ---\nhello from web-2\n', 'text/plain'],
      'GET /v1/jobs/j_run2/logs': [200, 'hello from web-2\n', 'text/plain'],
    };
  });

  it("finds the target by name and prints its run's logs as jr logs RUN_ID does", async () => {
    const r = await jr('logs', 'j_f', '--target', 'web-2');
    expect(r).toEqual({ code: 0, stdout: '--- step 1/1: step-1 ---\nhello from web-2\n', stderr: '' });
    expect(api.seen).toEqual([
      'GET /v1/jobs/j_f',
      'GET /v1/jobs/j_f/targets?limit=500',
      'GET /v1/jobs/j_run2/logs?markers=1',
    ]);
  });

  it('finds it by agent id too, and --raw still drops the markers', async () => {
    const r = await jr('logs', 'j_f', '--target', A2, '--raw');
    expect(r).toEqual({ code: 0, stdout: 'hello from web-2\n', stderr: '' });
  });

  it('an unknown target exits 4', async () => {
    const r = await jr('logs', 'j_f', '--target', 'web-9');
    expect(r).toEqual({ code: 4, stdout: '', stderr: 'jr: no target web-9 in job j_f\n' });
  });

  it('a target that has not started: a note on stderr, exit 0, no logs asked for', async () => {
    const r = await jr('logs', 'j_f', '--target', 'web-3');
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'target web-3 has not started (state pending)\n' });
    expect(api.seen.filter((l) => l.includes('/logs'))).toEqual([]);
  });

  it('a name two targets share must be given as an agent id (64)', async () => {
    const twin = target('web-2', 'a_000000000000000twin2', 'running', 'j_twin');
    api.routes['GET /v1/jobs/j_f/targets?limit=500'] = page(web2, twin);
    const r = await jr('logs', 'j_f', '--target', 'web-2');
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(
      `2 targets of job j_f are named web-2: give the agent id (${A2}, a_000000000000000twin2)`,
    );
  });

  it('-f on a target not started yet waits for it to start (polling the fleet job), then follows its run', async () => {
    const started = target('web-3', 'a_0000000000000000web3', 'running', 'j_run3');
    api.routes = {
      'GET /v1/jobs/j_f': [
        [200, fleetView()],
        [200, fleetView({ running: 2, succeeded: 1 })],
        [200, fleetView({ running: 2, succeeded: 1 })],
        [200, fleetView({ running: 1, succeeded: 2 })],
      ],
      'GET /v1/jobs/j_f/targets?limit=500': [page(web1, web2, web3), page(web1, web2, web3), page(web1, web2, started)],
      'GET /v1/jobs/j_run3/logs?follow=1&markers=1': [200, 'hi from web-3\n', 'text/plain'],
    };
    const r = await jr('logs', 'j_f', '--target', 'web-3', '-f');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hi from web-3\n');
    expect(r.stderr).toBe('target web-3 has not started (state pending); waiting for it to start\n');
    // the targets are read again only when the fleet's counts moved
    expect(api.seen.filter((l) => l.includes('/targets'))).toHaveLength(3);
    expect(sleeps.slice(0, 3)).toEqual([1_000, 1_000, 1_000]);
  });

  it('-f on a target that will never run (skipped) says so at once and exits 0', async () => {
    const skipped = target('web-3', 'a_0000000000000000web3', 'skipped', null);
    api.routes['GET /v1/jobs/j_f/targets?limit=500'] = page(web1, skipped);
    const r = await jr('logs', 'j_f', '--target', 'web-3', '-f');
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'target web-3 has not started (state skipped)\n' });
  });

  it('-f stops waiting when the target ends without a run (undelivered), exit 0', async () => {
    const undelivered = target('web-3', 'a_0000000000000000web3', 'undelivered', null);
    api.routes['GET /v1/jobs/j_f/targets?limit=500'] = [page(web3), page(undelivered)];
    api.routes['GET /v1/jobs/j_f'] = [
      [200, fleetView()],
      [200, fleetView({ undelivered: 1 }, 'failed')],
    ];
    const r = await jr('logs', 'j_f', '--target', 'web-3', '-f');
    expect(r).toEqual({
      code: 0,
      stdout: '',
      stderr:
        'target web-3 has not started (state pending); waiting for it to start\n' +
        'target web-3 ended without running (state undelivered)\n',
    });
  });
});

describe('jr logs of a fleet job or with --target on another job', () => {
  it('a fleet job without --target exits 64 naming --target', async () => {
    api.routes = { 'GET /v1/jobs/j_f': [200, fleetView()] };
    const r = await jr('logs', 'j_f');
    expect(r).toEqual({
      code: 64,
      stdout: '',
      stderr: 'jr: a fleet job has one log per target: --target NAME (jr status j_f lists them)\n',
    });
  });

  it('--target on a job that is not a fleet job exits 64; without it such a job prints as before', async () => {
    api.routes = {
      'GET /v1/jobs/j_1': [200, { id: 'j_1', state: 'succeeded' }],
      'GET /v1/jobs/j_1/logs?markers=1': [200, 'plain\n', 'text/plain'],
    };
    expect((await jr('logs', 'j_1', '--target', 'web-1')).code).toBe(64);
    expect(await jr('logs', 'j_1')).toEqual({ code: 0, stdout: 'plain\n', stderr: '' });
    expect((await jr('logs', 'j_9')).code).toBe(4);
  });
});
