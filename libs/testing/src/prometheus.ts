import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './net';
import { MissingBinaryError } from './private-services';
import { waitFor } from './wait';

// A real Prometheus (Debian's `prometheus` package) for tests: started on a free loopback port with a
// generated config scraping the given targets and loading the given rule files, queried through its
// HTTP API. Plus the PromQL helpers the dashboard/rule tests share.

export interface PrometheusTools {
  prometheus: string;
  promtool: string;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * `prometheus` and `promtool` from PATH; when missing and running as root, installs Debian's
 * `prometheus` package (serialised by a lock file, so parallel test workers do not fight over dpkg).
 * Throws MissingBinaryError otherwise: a test that needs them must fail, not skip.
 */
export function ensurePrometheusTools(): PrometheusTools {
  const find = (): PrometheusTools | undefined => {
    const prometheus = which('prometheus');
    const promtool = which('promtool');
    return prometheus && promtool ? { prometheus, promtool } : undefined;
  };
  let tools = find();
  if (!tools && isRoot()) {
    const script =
      'command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; }';
    execFileSync('flock', [path.join(os.tmpdir(), 'jr-apt.lock'), 'sh', '-c', script], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    tools = find();
  }
  if (!tools)
    throw new MissingBinaryError(
      'prometheus/promtool',
      "install Debian's prometheus package (sudo apt-get install prometheus); .ci/run does it when missing",
    );
  return tools;
}

export interface ScrapeTarget {
  job: string;
  /** host:port */
  targets: string[];
  metricsPath?: string;
  labels?: Record<string, string>;
  /** Sent as `Authorization: Bearer` on every scrape (jr-api's /metrics needs a metrics:read token). */
  bearerToken?: string;
  /** Scrape over https trusting this CA file (the API's listeners speak TLS by default). */
  caFile?: string;
}

export interface PrometheusOptions {
  targets: ScrapeTarget[];
  /** Absolute paths (or globs) of rule files to load. */
  ruleFiles?: string[];
  /** Scrape and rule evaluation interval (default 1 s: tests want data quickly). */
  intervalSeconds?: number;
}

export interface QueryResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result:
    | Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>
    | [number, string];
}

/** A query Prometheus refused (bad_data: the expression does not parse, or cannot be evaluated). */
export class PromQueryError extends Error {
  constructor(
    readonly expr: string,
    readonly errorType: string,
    detail: string,
  ) {
    super(`${errorType}: ${detail} (expression: ${expr})`);
    this.name = 'PromQueryError';
  }
}

export interface RuleView {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
}

export class PrometheusServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    const { prometheus } = ensurePrometheusTools();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-prometheus-'));
    const configFile = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(configFile, prometheusConfig(options));
    const port = await freePort();
    const logFile = path.join(dir, 'prometheus.log');
    const out = fs.openSync(logFile, 'a');
    const args = [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ];
    const child = spawn(prometheus, args, { stdio: ['ignore', out, out], cwd: dir });
    fs.closeSync(out);
    const server = new PrometheusServer(child, port, dir, logFile);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${server.log()}`);
        return (await fetch(`${server.url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'prometheus to be ready' },
    );
    return server;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-4_000);
    } catch {
      return '';
    }
  }

  /** An instant query; throws PromQueryError when Prometheus refuses the expression. */
  async query(expr: string, timeSeconds?: number): Promise<QueryResult> {
    const params = new URLSearchParams({ query: expr });
    if (timeSeconds !== undefined) params.set('time', String(timeSeconds));
    return this.api<QueryResult>('/api/v1/query', params, expr);
  }

  async queryRange(expr: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<QueryResult> {
    const params = new URLSearchParams({
      query: expr,
      start: String(startSeconds),
      end: String(endSeconds),
      step: String(stepSeconds),
    });
    return this.api<QueryResult>('/api/v1/query_range', params, expr);
  }

  /** Every loaded rule, as Prometheus parsed it. */
  async rules(): Promise<RuleView[]> {
    const data = await this.api<{ groups: Array<{ rules: RuleView[] }> }>(
      '/api/v1/rules',
      new URLSearchParams(),
      'rules',
    );
    return data.groups.flatMap((g) => g.rules);
  }

  /** Waits until every target has been scraped successfully `scrapes` times (by counting `up` samples). */
  async waitForScrapes(scrapes = 2, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const res = await this.query('min(count_over_time(up[1h]) * up)');
        const sample = Array.isArray(res.result) ? (res.result as Array<{ value?: [number, string] }>)[0] : undefined;
        return sample?.value !== undefined && Number(sample.value[1]) >= scrapes;
      },
      { timeoutMs, intervalMs: 250, what: `${scrapes} successful scrapes of every target` },
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async api<T>(pathname: string, params: URLSearchParams, expr: string): Promise<T> {
    const res = await fetch(`${this.url}${pathname}?${params.toString()}`);
    const body = (await res.json()) as { status: string; data: T; errorType?: string; error?: string };
    if (body.status !== 'success')
      throw new PromQueryError(expr, body.errorType ?? String(res.status), body.error ?? 'failed');
    return body.data;
  }
}

/** The generated prometheus.yml (JSON is valid YAML). */
export function prometheusConfig(options: PrometheusOptions): string {
  const interval = `${options.intervalSeconds ?? 1}s`;
  return JSON.stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: options.targets.map((t) => ({
      job_name: t.job,
      metrics_path: t.metricsPath ?? '/metrics',
      ...(t.caFile !== undefined ? { scheme: 'https', tls_config: { ca_file: t.caFile } } : {}),
      static_configs: [{ targets: t.targets, labels: t.labels ?? {} }],
      ...(t.bearerToken ? { authorization: { type: 'Bearer', credentials: t.bearerToken } } : {}),
    })),
  });
}

// ---- PromQL and dashboard helpers --------------------------------------------------------------

/** A metric selector found in an expression: the metric name and the label names it matches on. */
export interface PromSelector {
  metric: string;
  labels: string[];
}

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
  'start',
  'end',
]);

/**
 * The metric selectors of a PromQL expression (a lexical scan, not a parser: it is only meant for our
 * own dashboards and rules, whose parse Prometheus itself checks). Function and aggregation names,
 * keywords, grouping label lists, strings, durations and numbers are skipped.
 */
export function promqlSelectors(expr: string): PromSelector[] {
  const s = expr
    .replace(/#[^\n]*/g, ' ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/gi, ' ');
  const out: PromSelector[] = [];
  const token = /(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (const m of s.matchAll(token)) {
    const [, name, braces, call] = m;
    if (!name || call || PROMQL_KEYWORDS.has(name.toLowerCase())) continue;
    const labels = [...(braces ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] as string,
    );
    out.push({ metric: name, labels });
  }
  return out;
}

export interface DashboardQuery {
  dashboard: string;
  /** Panel title, or `$name` for a template variable. */
  where: string;
  expr: string;
}

/** Every PromQL expression of the Grafana dashboards (*.json) in `dir`: panel targets and variables. */
export function grafanaDashboardQueries(dir: string): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const dashboard = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as GrafanaDashboard;
    const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
    for (const panel of panels) {
      for (const target of panel.targets ?? [])
        if (target.expr) out.push({ dashboard: file, where: panel.title ?? '(untitled)', expr: target.expr });
    }
    for (const variable of dashboard.templating?.list ?? []) {
      if (variable.type !== 'query') continue;
      const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
      if (query) out.push({ dashboard: file, where: `$${variable.name}`, expr: variableQueryToPromql(query) });
    }
  }
  return out;
}

interface GrafanaPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: GrafanaPanel[];
}
interface GrafanaDashboard {
  panels?: GrafanaPanel[];
  templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}

/** Grafana's `label_values(m, l)` / `query_result(e)` variable queries as plain PromQL. */
export function variableQueryToPromql(query: string): string {
  const labelValues = /^\s*label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/.exec(query);
  if (labelValues) return `count by (${labelValues[2]}) (${labelValues[1]})`;
  const result = /^\s*query_result\(\s*([\s\S]+)\)\s*$/.exec(query);
  return result?.[1] ?? query;
}

/** Replaces Grafana's variables so an expression can be sent to Prometheus as is. */
export function expandGrafanaVariables(expr: string, values: Record<string, string> = {}): string {
  const builtins: Record<string, string> = {
    __rate_interval: '1m',
    __interval: '15s',
    __range: '1h',
    __range_s: '3600',
    ...values,
  };
  return expr.replace(
    /\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g,
    (_m, a?: string, b?: string, c?: string) => {
      const name = (a ?? b ?? c) as string;
      return builtins[name] ?? '.*';
    },
  );
}

/** Series names in a Prometheus text exposition, each with the label names it carries. */
export function expositionSeries(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{([^}]*)\})?\s+\S+/.exec(line);
    if (!m?.[1]) continue;
    const labels = out.get(m[1]) ?? new Set<string>();
    for (const l of (m[3] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) labels.add(l[1] as string);
    out.set(m[1], labels);
  }
  return out;
}
