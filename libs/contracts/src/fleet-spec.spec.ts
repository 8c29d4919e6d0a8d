import { FLEET_LIMITS, parseAmount, parseFleetFields, type FleetParseResult } from './fleet-spec';

const ID = 'a_0123456789abcdefghjk';

function issuesOf(r: FleetParseResult) {
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.issues;
}

function pathsOf(input: { targets?: unknown; rollout?: unknown }): string[] {
  return issuesOf(parseFleetFields(input, 'default')).map((i) => i.path);
}

describe('parseFleetFields: targets', () => {
  it('is null when the job has neither field (a job for one agent)', () => {
    expect(parseFleetFields({}, 'default')).toEqual({ ok: true, fleet: null });
  });

  it('takes a pool and labels, with the contract defaults for the rollout', () => {
    const r = parseFleetFields({ targets: { pool: 'web', labels: { role: 'web', zone: 'eu-1' } } }, 'default');
    expect(r).toEqual({
      ok: true,
      fleet: {
        targets: { kind: 'match', pool: 'web', labels: { role: 'web', zone: 'eu-1' }, continuous: false },
        rollout: {
          batch: { kind: 'percent', p: 100 },
          mode: 'rolling',
          maxFailures: { kind: 'count', n: 0 },
          minSample: 0,
          deliveryTimeoutMs: 600_000,
          pauseMs: 0,
          undeliveredCountsAsFailure: false,
          successCriteria: null,
        },
      },
    });
  });

  it("takes the job's pool when targets name none; all: true is the whole pool", () => {
    const r = parseFleetFields({ targets: { all: true, continuous: true } }, 'linux');
    expect(r.ok && r.fleet?.targets).toEqual({ kind: 'match', pool: 'linux', labels: {}, continuous: true });
  });

  it('tells agent ids from agent names', () => {
    const r = parseFleetFields({ targets: { agents: [ID, 'web-1', 'build box.2'] } }, 'default');
    expect(r.ok && r.fleet?.targets).toEqual({
      kind: 'agents',
      pool: 'default',
      agents: [
        { kind: 'id', id: ID },
        { kind: 'name', name: 'web-1' },
        { kind: 'name', name: 'build box.2' },
      ],
    });
  });

  it('takes 10,000 agents and refuses 10,001 with one issue', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `web-${i}`);
    expect(parseFleetFields({ targets: { agents: many(FLEET_LIMITS.maxAgents) } }, 'default').ok).toBe(true);
    const issues = issuesOf(parseFleetFields({ targets: { agents: many(1_000_000) } }, 'default'));
    expect(issues).toEqual([{ path: 'targets.agents', message: 'at most 10000 agents, not 1000000' }]);
  });

  it('names a duplicate and where it first appears', () => {
    const issues = issuesOf(parseFleetFields({ targets: { agents: ['web-1', ID, 'web-2', 'web-1', ID] } }, 'x'));
    expect(issues).toEqual([
      { path: 'targets.agents.3', message: '"web-1" is listed twice (first at targets.agents.0)' },
      { path: 'targets.agents.4', message: `"${ID}" is listed twice (first at targets.agents.1)` },
    ]);
  });

  it('lists the first problems of a long bad list, not all of them', () => {
    const issues = issuesOf(parseFleetFields({ targets: { agents: Array.from({ length: 5_000 }, () => 7) } }, 'x'));
    expect(issues).toHaveLength(FLEET_LIMITS.maxAgentIssues + 1);
    expect(issues.at(-1)?.message).toMatch(/only the first are listed/);
  });

  it.each([
    [{ targets: { pool: 'web' } }, 'targets'], // which agents? not the whole pool by accident
    [{ targets: {} }, 'targets'],
    [{ targets: { labels: {} } }, 'targets.labels'],
    [{ targets: { all: false } }, 'targets'],
    [{ targets: { labels: { role: 'web' }, agents: ['web-1'] } }, 'targets.agents'],
    [{ targets: { all: true, agents: ['web-1'] } }, 'targets.agents'],
    [{ targets: { all: true, labels: { role: 'web' } } }, 'targets.all'],
    [{ targets: { agents: ['web-1'], continuous: true } }, 'targets.continuous'],
    [{ targets: { all: 'yes' } }, 'targets.all'],
    [{ targets: { labels: { role: 'web' }, continuous: 1 } }, 'targets.continuous'],
    [{ targets: { pool: 'Web:1', all: true } }, 'targets.pool'],
    [{ targets: { labels: { 'role!': 'web' } } }, 'targets.labels.role!'],
    [{ targets: { labels: { role: 'web server' } } }, 'targets.labels.role'],
    [{ targets: { labels: { role: 3 } } }, 'targets.labels.role'],
    [{ targets: { agents: [] } }, 'targets.agents'],
    [{ targets: { agents: 'web-1' } }, 'targets.agents'],
    [{ targets: { agents: ['web-1', ''] } }, 'targets.agents.1'],
    [{ targets: { agents: ['-web'] } }, 'targets.agents.0'],
    [{ targets: { agents: ['web/1'] } }, 'targets.agents.0'],
    [{ targets: { agents: [null] } }, 'targets.agents.0'],
    [{ targets: { all: true, colour: 'red' } }, 'targets.colour'],
    [{ targets: 'role=web' }, 'targets'],
    [{ targets: null }, 'targets'],
    [{ targets: [{ all: true }] }, 'targets'],
  ])('refuses %j with an issue at %s', (input, path) => {
    expect(pathsOf(input)).toContain(path);
  });

  it('refuses an agent name of 201 characters and a 1,000-digit duration', () => {
    expect(pathsOf({ targets: { agents: ['x'.repeat(200), 'y'.repeat(201)] } })).toEqual(['targets.agents.1']);
    expect(pathsOf({ targets: { all: true }, rollout: { deliveryTimeout: '1'.repeat(1_000) } })).toEqual([
      'rollout.deliveryTimeout',
    ]);
  });

  it('refuses 33 labels', () => {
    const labels = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
    expect(pathsOf({ targets: { labels } })).toEqual(['targets.labels']);
  });

  it('says unknown field for each unknown key, by its path', () => {
    const issues = issuesOf(
      parseFleetFields({ targets: { all: true, colour: 1, size: 2 }, rollout: { speed: 9 } }, 'x'),
    );
    expect(issues).toEqual([
      { path: 'targets.colour', message: 'unknown field' },
      { path: 'targets.size', message: 'unknown field' },
      { path: 'rollout.speed', message: 'unknown field' },
    ]);
  });
});

describe('parseFleetFields: rollout', () => {
  const parse = (rollout: unknown) => parseFleetFields({ targets: { all: true }, rollout }, 'default');
  const rolloutOf = (rollout: unknown) => {
    const r = parse(rollout);
    if (!r.ok || !r.fleet) throw new Error(JSON.stringify(r));
    return r.fleet.rollout;
  };

  it('normalizes every field', () => {
    expect(
      rolloutOf({
        batch: '12.5%',
        mode: 'batching',
        maxFailures: '5%',
        minSample: 4,
        deliveryTimeout: '2m',
        pause: 30,
        undeliveredCountsAsFailure: true,
        successCriteria: { minSucceeded: 9 },
      }),
    ).toEqual({
      batch: { kind: 'percent', p: 12.5 },
      mode: 'batching',
      maxFailures: { kind: 'percent', p: 5 },
      minSample: 4,
      deliveryTimeoutMs: 120_000,
      pauseMs: 30_000,
      undeliveredCountsAsFailure: true,
      successCriteria: { minSucceeded: { kind: 'count', n: 9 } },
    });
  });

  it('defaults to rolling, every target at once, and stopping at the first failure', () => {
    expect(rolloutOf({ batch: 2 })).toMatchObject({
      batch: { kind: 'count', n: 2 },
      mode: 'rolling',
      maxFailures: { n: 0 },
    });
    expect(rolloutOf({})).toEqual(rolloutOf(undefined));
  });

  it.each([
    ['1%', { kind: 'percent', p: 1 }],
    ['100%', { kind: 'percent', p: 100 }],
    ['100.0%', { kind: 'percent', p: 100 }],
    ['33.3%', { kind: 'percent', p: 33.3 }],
    [1, { kind: 'count', n: 1 }],
  ])('batch %j is %j', (batch, expected) => {
    expect(rolloutOf({ batch }).batch).toEqual(expected);
  });

  it.each([
    '0%',
    '0.5%',
    '101%',
    '100.1%',
    '1.55%',
    '-5%',
    '5 %',
    ' 5%',
    '05%',
    '5%%',
    '%',
    '1e1%',
    'NaN%',
    'NaN',
    '5',
    'Infinity',
  ])('refuses batch %j', (batch) => {
    expect(pathsOf({ targets: { all: true }, rollout: { batch } })).toEqual(['rollout.batch']);
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, 2 ** 53, true, null, [], {}])('refuses batch %p', (batch) => {
    expect(pathsOf({ targets: { all: true }, rollout: { batch } })).toEqual(['rollout.batch']);
  });

  it('says what a batch may be', () => {
    expect(issuesOf(parse({ batch: '101%' }))[0]?.message).toBe(
      'a whole number (1 or more) or a percent from 1% to 100% like "25%" or "12.5%", not "101%"',
    );
  });

  it.each([
    [0, { kind: 'count', n: 0 }],
    ['0%', { kind: 'percent', p: 0 }],
    ['0.5%', { kind: 'percent', p: 0.5 }],
    ['100%', { kind: 'percent', p: 100 }],
  ])('maxFailures %j is %j', (maxFailures, expected) => {
    expect(rolloutOf({ maxFailures }).maxFailures).toEqual(expected);
  });

  it.each([
    [{ maxFailures: -1 }, 'rollout.maxFailures'],
    [{ maxFailures: '101%' }, 'rollout.maxFailures'],
    [{ maxFailures: '1.55%' }, 'rollout.maxFailures'],
    [{ maxFailures: 'NaN' }, 'rollout.maxFailures'],
    [{ minSample: -1 }, 'rollout.minSample'],
    [{ minSample: 1.5 }, 'rollout.minSample'],
    [{ minSample: '3' }, 'rollout.minSample'],
    [{ mode: 'parallel' }, 'rollout.mode'],
    [{ deliveryTimeout: '500ms' }, 'rollout.deliveryTimeout'],
    [{ deliveryTimeout: 0 }, 'rollout.deliveryTimeout'],
    [{ deliveryTimeout: '8d' }, 'rollout.deliveryTimeout'],
    [{ deliveryTimeout: 'soon' }, 'rollout.deliveryTimeout'],
    [{ deliveryTimeout: -5 }, 'rollout.deliveryTimeout'],
    [{ pause: '-1s' }, 'rollout.pause'],
    [{ pause: '8d' }, 'rollout.pause'],
    [{ undeliveredCountsAsFailure: 'false' }, 'rollout.undeliveredCountsAsFailure'],
    [{ successCriteria: { minSucceeded: '101%' } }, 'rollout.successCriteria.minSucceeded'],
    [{ successCriteria: {} }, 'rollout.successCriteria.minSucceeded'],
    [{ successCriteria: { minSucceeded: 1, quorum: 2 } }, 'rollout.successCriteria.quorum'],
    [{ successCriteria: '90%' }, 'rollout.successCriteria'],
    [null, 'rollout'],
    ['25%', 'rollout'],
  ])('refuses %j with an issue at %s', (rollout, path) => {
    expect(pathsOf({ targets: { all: true }, rollout })).toEqual([path]);
  });

  it('takes a pause of 0 and a deliveryTimeout of 1s', () => {
    expect(rolloutOf({ pause: '0s', deliveryTimeout: '1s' })).toMatchObject({ pauseMs: 0, deliveryTimeoutMs: 1_000 });
  });

  it('refuses a rollout without targets, and still checks it', () => {
    expect(issuesOf(parseFleetFields({ rollout: { batch: '0%' } }, 'default'))).toEqual([
      { path: 'rollout', message: 'rollout needs targets (the agents to roll out to)' },
      { path: 'rollout.batch', message: expect.stringContaining('not "0%"') },
    ]);
  });

  it('lists every problem of both fields at once', () => {
    const paths = pathsOf({ targets: { labels: { role: 'web' }, all: true }, rollout: { batch: 0, mode: 'x' } });
    expect(paths).toEqual(['targets.all', 'rollout.batch', 'rollout.mode']);
  });
});

describe('parseFleetFields: hostile input', () => {
  it.each([
    [{ targets: { agents: ['web\u00001'] } }, 'targets.agents.0'],
    [{ targets: { labels: { role: 'we\u0000b' } } }, 'targets.labels.role'],
    [{ targets: { labels: { ['ro\u0000le']: 'web' } } }, 'targets.labels.ro\\u0000le'],
    [{ targets: { pool: '\ud800' } }, 'targets.pool'],
    [{ targets: { all: true }, rollout: { batch: '5\u0000%' } }, 'rollout.batch'],
  ])('refuses text Postgres cannot store, said once: %j', (input, path) => {
    const issues = issuesOf(parseFleetFields(input, 'default'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toEqual({ path, message: expect.stringMatching(/NUL|surrogate/) });
  });

  it.each([
    ['targets.labels', '{"targets": {"labels": {"__proto__": {"x": "y"}, "role": "web"}}}'],
    ['rollout', '{"targets": {"all": true}, "rollout": {"__proto__": {"batch": 1}}}'],
    ['rollout.successCriteria', '{"targets": {"all": true}, "rollout": {"successCriteria": {"__proto__": 1}}}'],
  ])('refuses a __proto__ key in %s instead of dropping it', (where, json) => {
    const issues = issuesOf(parseFleetFields(JSON.parse(json), 'default'));
    expect(issues[0]).toEqual({ path: `${where}.__proto__`, message: 'the key "__proto__" is not allowed' });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('refuses absurd nesting with an issue, not a stack overflow', () => {
    const deep = JSON.parse(`{"targets": {"labels": ${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}}`);
    expect(issuesOf(parseFleetFields(deep, 'default')).length).toBeGreaterThan(0);
  });
});

describe('parseAmount', () => {
  it('is the one reading of "N or N%" (for CLI flags too)', () => {
    expect(parseAmount('10%', 1)).toEqual({ kind: 'percent', p: 10 });
    expect(parseAmount(3, 0)).toEqual({ kind: 'count', n: 3 });
    expect(parseAmount('0%', 1)).toHaveProperty('issue');
  });
});
