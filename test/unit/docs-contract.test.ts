/**
 * docs/contract.md and docs/examples/job.yaml against the code, both ways, so the reference cannot drift:
 * every documented variable, route, command, exit code, state and job field exists, and everything that
 * exists is documented.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import * as ts from 'typescript';
import {
  AGENT_VIEW_STATES,
  ATTEMPT_STATES,
  JOB_REASONS,
  JOB_STATES,
  STEP_STATES,
  artifactSchema,
  jobSpecSchema,
  parseJobSpec,
  stepSchema,
} from '@jr/contracts';
import { EXIT } from '../../apps/cli/src/exit-codes';
import { REPLAY_EXIT } from '../../apps/api/src/replay/replay-report';
import { documentFromFile, validateDocument } from '../../apps/cli/src/job-document';
import { readJobFile } from '../../apps/cli/src/job-file';
import { buildProgram } from '../../apps/cli/src/program';
import { createContext } from '../../apps/cli/src/context';
import { realClock } from '../../apps/cli/src/timing';

const ROOT = path.resolve(__dirname, '../..');
const CONTRACT = readFileSync(path.join(ROOT, 'docs/contract.md'), 'utf8');
const EXAMPLE = path.join(ROOT, 'docs/examples/job.yaml');
const FLEET_EXAMPLE = path.join(ROOT, 'docs/examples/fleet-job.yaml');
/** Fields shown in the fleet example rather than the job example (a job with targets takes no labels). */
const FLEET_FIELDS = ['targets', 'rollout'];

const CONFIG_SCHEMAS = {
  api: 'apps/api/src/config/config.schema.ts',
  agent: 'apps/agent/src/config/agent-config.ts',
  cli: 'apps/cli/src/config.ts',
} as const;
type Component = keyof typeof CONFIG_SCHEMAS;
/** Parts of a component's schema kept in files of their own (spread into the main schema). */
const SCHEMA_PARTS: Partial<Record<Component, string[]>> = { api: ['apps/api/src/config/limits.schema.ts'] };

/** The body of `## title` up to the next `## ` heading. */
function section(title: string): string {
  const start = CONTRACT.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/contract.md has no section "## ${title}"`);
  const end = CONTRACT.indexOf('\n## ', start + 1);
  return CONTRACT.slice(start, end < 0 ? undefined : end);
}

/** Rows (cells trimmed) of every table in `text` whose header row is exactly `header`. */
function tableRows(text: string, header: string[]): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (cells.every((c) => /^-+$/.test(c))) continue;
    if (JSON.stringify(cells) === JSON.stringify(header)) inTable = true;
    else if (inTable) rows.push(cells);
  }
  if (rows.length === 0) throw new Error(`no table with header ${header.join(' | ')}`);
  return rows;
}

const code = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/** Names of the properties of every top-level `z.object({…})` / `z.strictObject({…})` in a config file. */
function schemaVariables(file: string): Set<string> {
  const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && /^z\.(object|strictObject)$/.test(node.expression.getText(source))) {
      const arg = node.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg)) {
        for (const p of arg.properties)
          if (p.name && /^[A-Z][A-Z0-9_]*$/.test(p.name.getText(source))) names.add(p.name.getText(source));
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** Keys present in `expected` and not in `actual`. */
function missing(_kind: string, expected: Iterable<string>, actual: Set<string>): string[] {
  return [...expected].filter((x) => !actual.has(x)).sort();
}

describe('docs/contract.md: environment variables', () => {
  const rows = tableRows(section('Environment variables'), ['variable', 'used by', 'default', 'meaning']);
  const documented = new Map<Component, Set<string>>(
    Object.keys(CONFIG_SCHEMAS).map((c) => [c as Component, new Set<string>()]),
  );
  for (const [name, usedBy] of rows) {
    const variable = code(name ?? '')[0] ?? '';
    for (const who of (usedBy ?? '').split(',').map((w) => w.trim())) documented.get(who as Component)?.add(variable);
  }

  it('lists only components that have a config schema', () => {
    const users = rows.flatMap(([, usedBy]) => (usedBy ?? '').split(',').map((w) => w.trim()));
    expect(users.filter((u) => !(u in CONFIG_SCHEMAS))).toEqual([]);
  });

  it.each(Object.entries(CONFIG_SCHEMAS))(
    '%s: every variable its schema reads is documented, and every one documented for it is read',
    (component, file) => {
      const inSchema = new Set(
        [file, ...(SCHEMA_PARTS[component as Component] ?? [])].flatMap((f) => [...schemaVariables(f)]),
      );
      expect(inSchema.size).toBeGreaterThan(2);
      const inDocs = documented.get(component as Component) ?? new Set<string>();
      expect({ undocumented: missing('var', inSchema, inDocs), notInSchema: missing('var', inDocs, inSchema) }).toEqual(
        { undocumented: [], notInSchema: [] },
      );
    },
  );
});

describe('docs/examples/job.yaml', () => {
  it('is a valid job file for `jr submit -f` and the API', async () => {
    const doc = documentFromFile(await readJobFile(EXAMPLE, undefined), {});
    const body = validateDocument(doc);
    const parsed = parseJobSpec(JSON.parse(body));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.job.steps.map((s) => s.name)).toEqual(['build', 'deploy', 'step-3', 'check-in']);
  });

  it('the fleet example is a valid job file too, and shows every field of targets and rollout', async () => {
    const raw = (await readJobFile(FLEET_EXAMPLE, undefined)) as Record<string, Record<string, unknown>>;
    const parsed = parseJobSpec(JSON.parse(validateDocument(documentFromFile(raw, {}))));
    expect(parsed.ok).toBe(true);
    expect(Object.keys(raw.rollout ?? {}).sort()).toEqual([
      'batch',
      'deliveryTimeout',
      'maxFailures',
      'minSample',
      'mode',
      'pause',
      'successCriteria',
      'undeliveredCountsAsFailure',
    ]);
    expect(
      Object.keys(raw)
        .filter((k) => FLEET_FIELDS.includes(k))
        .sort(),
    ).toEqual([...FLEET_FIELDS].sort());
  });

  it('shows every field of the job document, both forms of `run`, and the contract table lists exactly those fields', async () => {
    const doc = (await readJobFile(EXAMPLE, undefined)) as {
      steps: Array<Record<string, unknown>>;
      uses: Array<Record<string, unknown>>;
    };
    // `signature` is written by `jr submit` with JR_JOB_SIGNING_KEY, not by hand (the table below lists it)
    expect(Object.keys(doc).sort()).toEqual(
      Object.keys(jobSpecSchema.shape)
        .filter((k) => k !== 'signature' && !FLEET_FIELDS.includes(k))
        .sort(),
    );
    expect([...new Set(doc.steps.flatMap((s) => Object.keys(s)))].sort()).toEqual(Object.keys(stepSchema.shape).sort());
    expect([...new Set(doc.uses.flatMap((u) => Object.keys(u)))].sort()).toEqual(
      Object.keys(artifactSchema.shape).sort(),
    );
    expect(
      new Set(
        doc.steps.map((s) => (s.builtin !== undefined ? 'builtin' : Array.isArray(s.run) ? 'argv' : typeof s.run)),
      ),
    ).toEqual(new Set(['argv', 'string', 'builtin']));

    const fields = tableRows(section('The job document and job files'), ['field', 'type', 'default', 'meaning']).map(
      ([f]) => code(f ?? '')[0],
    );
    const schemaFields = [
      ...Object.keys(jobSpecSchema.shape),
      ...Object.keys(stepSchema.shape).map((k) => `steps[].${k}`),
    ];
    expect([...fields].sort()).toEqual(schemaFields.sort());
  });
});

describe('docs/contract.md: states, reasons, exit codes', () => {
  const states = section('States and reasons');
  const mentioned = new Set(code(states.replace(/```[\s\S]*?```/g, '')));

  it.each([
    ['job states', JOB_STATES],
    ['attempt states', ATTEMPT_STATES],
    ['job reasons', JOB_REASONS],
    ['step states', STEP_STATES],
    ['agent states', AGENT_VIEW_STATES],
  ] as const)('names every one of the %s', (_what, list) => {
    expect(list.filter((s) => !mentioned.has(s))).toEqual([]);
  });

  it('has one row per job reason, no more', () => {
    const reasons = tableRows(states, ['reason', 'the job ended …']).map(([r]) => code(r ?? '')[0]);
    expect([...reasons].sort()).toEqual([...JOB_REASONS].sort());
  });

  it('lists every exit code of jr, and only those', () => {
    const rows = tableRows(section('Exit codes'), ['code', '`jr`', '`jr-agent`', '`jr-api`']);
    const documented = new Set(rows.filter(([, jr]) => (jr ?? '') !== '').map(([n]) => n ?? ''));
    const actual = new Set(Object.values(EXIT).map(String));
    expect({
      undocumented: missing('exit', actual, documented),
      notInCode: missing('exit', documented, actual),
    }).toEqual({ undocumented: [], notInCode: [] });
  });
});

describe('docs/contract.md: jr-api exit codes', () => {
  it('lists every exit code of jr-api (the server and journal replay), and only those', () => {
    const rows = tableRows(section('Exit codes'), ['code', '`jr`', '`jr-agent`', '`jr-api`']);
    const documented = new Set(rows.filter(([, , , api]) => (api ?? '') !== '').map(([n]) => n ?? ''));
    const actual = new Set(Object.values(REPLAY_EXIT).map(String));
    expect({
      undocumented: missing('exit', actual, documented),
      notInCode: missing('exit', documented, actual),
    }).toEqual({ undocumented: [], notInCode: [] });
  });
});

describe('docs/contract.md: REST routes', () => {
  /** `METHOD /path` of every route decorator in the API's controllers. */
  function controllerRoutes(): Set<string> {
    const files = ts.sys.readDirectory(path.join(ROOT, 'apps/api/src'), ['.ts'], undefined, ['**/*.controller.ts']);
    const routes = new Set<string>();
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const prefix = /@Controller\(\s*(?:'([^']*)')?\s*\)/.exec(text)?.[1] ?? '';
      for (const m of text.matchAll(/@(Get|Post|Put|Patch|Delete)\(\s*(?:'([^']*)')?\s*\)/g)) {
        const parts = [prefix, m[2] ?? ''].filter((p) => p !== '');
        routes.add(`${(m[1] as string).toUpperCase()} /${parts.join('/')}`);
      }
    }
    return routes;
  }

  it('documents every route the controllers serve, and no other', () => {
    const rows = tableRows(section('REST API'), ['method and path', 'does', 'answers']);
    const documented = new Set(rows.map(([route]) => (code(route ?? '')[0] ?? '').replace(/\?.*$/, '')));
    const served = controllerRoutes();
    expect(served.size).toBeGreaterThan(8);
    expect({
      undocumented: missing('route', served, documented),
      notServed: missing('route', documented, served),
    }).toEqual({ undocumented: [], notServed: [] });
  });
});

describe('docs/contract.md: jr commands', () => {
  function commandPaths(cmd: Command, prefix: string[] = []): string[] {
    return cmd.commands.flatMap((c) => {
      const here = [...prefix, c.name()];
      return [here.join(' '), ...commandPaths(c, here)];
    });
  }

  it('documents every command of the program, and no other', () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
    const program = buildProgram(createContext(io, realClock), () => undefined);
    const actual = new Set(commandPaths(program).filter((p) => !/(^| )help$/.test(p)));
    const rows = tableRows(section('CLI `jr`'), ['command', 'does', 'exit code']);
    const documented = new Set(
      rows.map(([cell]) => {
        const words = (code(cell ?? '')[0] ?? '').split(/\s+/).slice(1);
        const end = words.findIndex((w) => !/^[a-z][a-z-]*$/.test(w));
        return words.slice(0, end < 0 ? undefined : end).join(' ');
      }),
    );
    expect({
      undocumented: missing('cmd', actual, documented),
      notInProgram: missing('cmd', documented, actual),
    }).toEqual({ undocumented: [], notInProgram: [] });
  });
});
