import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderSampleExposition } from '@jr/telemetry';
import { ensurePrometheusTools } from '@jr/testing';

// Prometheus' own tool checks our rules, runs their unit tests (infra/prometheus/tests) and lints the
// exposition our metrics catalog produces. promtool is installed when missing (as root); a machine
// without it fails here with the reason, it does not skip.
const root = path.resolve(__dirname, '../..');
const promDir = path.join(root, 'infra/prometheus');
const ruleFiles = fs
  .readdirSync(path.join(promDir, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => path.join(promDir, 'rules', f));
const testFiles = fs
  .readdirSync(path.join(promDir, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => path.join(promDir, 'tests', f));

function promtool(args: string[], input?: string): { code: number; out: string } {
  const { promtool: bin } = ensurePrometheusTools();
  const r = spawnSync(bin, args, { cwd: promDir, input, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** Alert names declared in the rule files (`- alert: Name`). */
function alertNames(): string[] {
  return ruleFiles.flatMap((f) =>
    [...fs.readFileSync(f, 'utf8').matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1] as string),
  );
}

/** Per alert: how many test cases expect it firing and how many expect silence. */
function alertCoverage(): Map<string, { firing: number; quiet: number }> {
  const coverage = new Map<string, { firing: number; quiet: number }>();
  for (const file of testFiles) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/alertname:\s*(\S+)\s*\n\s*exp_alerts:[ \t]*(\[\])?/g)) {
      const entry = coverage.get(m[1] as string) ?? { firing: 0, quiet: 0 };
      if (m[2]) entry.quiet++;
      else entry.firing++;
      coverage.set(m[1] as string, entry);
    }
  }
  return coverage;
}

/** GitHub's heading anchors of infra/README.md. */
function readmeAnchors(): Set<string> {
  const text = fs.readFileSync(path.join(root, 'infra/README.md'), 'utf8');
  const headings = [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1] as string);
  return new Set(
    headings.map((h) =>
      h
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

describe('Prometheus rules and exposition (promtool)', () => {
  beforeAll(() => {
    ensurePrometheusTools();
  }, 600_000);

  it('checks the scrape config and every rule file', () => {
    // --syntax-only: the scrape job's token file (/etc/prometheus/jr-api.token) exists only where it is deployed;
    // the rule files it loads are checked on their own just below
    const config = promtool(['check', 'config', '--syntax-only', 'prometheus.yml']);
    expect(config).toMatchObject({ code: 0 });
    expect(config.out).toContain('SUCCESS');
    const rules = promtool(['check', 'rules', ...ruleFiles]);
    expect(rules.code).toBe(0);
    expect(rules.out).not.toMatch(/FAILED/);
  });

  it('passes the promtool unit tests of every alert', () => {
    const r = promtool(['test', 'rules', ...testFiles]);
    if (r.code !== 0) throw new Error(r.out);
    expect(r.out).toContain('SUCCESS');
  });

  it('has a firing and a quiet test case for every alert, and a runbook section in infra/README.md', () => {
    const names = alertNames();
    expect(names.length).toBeGreaterThanOrEqual(12);
    const coverage = alertCoverage();
    const missing = names.filter((n) => !((coverage.get(n)?.firing ?? 0) > 0 && (coverage.get(n)?.quiet ?? 0) > 0));
    expect(missing).toEqual([]);
    const anchors = readmeAnchors();
    const runbooks = ruleFiles.flatMap((f) =>
      [...fs.readFileSync(f, 'utf8').matchAll(/runbook:\s*["']infra\/README\.md#([^"']+)["']/g)].map(
        (m) => m[1] as string,
      ),
    );
    expect(runbooks.length).toBe(names.length);
    expect(runbooks.filter((a) => !anchors.has(a))).toEqual([]);
  });

  it.each(['api', 'agent'] as const)(
    'finds nothing to lint in the %s exposition of the metrics catalog',
    async (kind) => {
      const exposition = await renderSampleExposition(kind);
      expect(exposition).toContain(
        kind === 'api' ? 'jr_dispatch_latency_seconds_bucket' : 'jr_agent_rpc_duration_seconds_bucket',
      );
      const r = promtool(['check', 'metrics'], exposition);
      expect(r).toEqual({ code: 0, out: '' });
    },
  );

  it('would notice a badly named metric (the lint is live)', () => {
    const bad = '# HELP jr_things_total Things.\n# TYPE jr_things_total gauge\njr_things_total 1\n';
    const r = promtool(['check', 'metrics'], bad);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('should not have "_total" suffix');
  });
});
