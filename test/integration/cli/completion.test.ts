import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { buildProgram } from '../../../apps/cli/src/program';
import { createContext } from '../../../apps/cli/src/context';
import { realClock } from '../../../apps/cli/src/timing';
import { ensureShell, jrBin, tempHome } from './harness';

let dir: string;
const scripts: Record<'bash' | 'zsh' | 'fish', string> = { bash: '', zsh: '', fish: '' };

beforeAll(async () => {
  dir = tempHome();
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const r = await jrBin(['completion', shell], { HOME: dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    scripts[shell] = path.join(dir, `jr.${shell}`);
    fs.writeFileSync(scripts[shell], r.stdout);
  }
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const q = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;

/** What bash's completion function offers for each query (its last word is the one being completed), in one bash. */
function bashCompleteAll(queries: string[][]): string[][] {
  const body = queries
    .map(
      (words) =>
        `COMP_WORDS=(${words.map(q).join(' ')}); COMP_CWORD=${words.length - 1}; _jr_completion; printf '%s\\n' "\${COMPREPLY[@]}" '@@end'`,
    )
    .join('\n');
  const out = execFileSync(
    ensureShell('bash'),
    ['--norc', '--noprofile', '-c', `source "$1"\n${body}`, '_', scripts.bash],
    { cwd: dir, encoding: 'utf8' },
  );
  return out
    .split('@@end\n')
    .slice(0, queries.length)
    .map((chunk) => chunk.split('\n').filter((l) => l !== ''));
}

const bashComplete = (words: string[]): string[] => bashCompleteAll([words])[0] ?? [];

/** zsh's completion function run with the completion builtins replaced by printers (no terminal needed). */
function zshComplete(words: string[]): string[] {
  const stubs =
    '_describe() { print -l -- "${(@P)4}" }; compadd() { shift; print -l -- "$@" }; _files() { print "<files>" }; _command_names() { print "<commands>" }';
  const script = `${stubs}; source "$1"; shift; words=("$@"); CURRENT=$#; _jr`;
  const out = execFileSync(ensureShell('zsh'), ['-f', '-c', script, '_', scripts.zsh, ...words], {
    cwd: dir,
    encoding: 'utf8',
  });
  return out.split('\n').filter((l) => l !== '');
}

/** fish's own answer for a command line (`complete -C`), names only. */
function fishComplete(line: string): string[] {
  const out = execFileSync(
    ensureShell('fish'),
    ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', scripts.fish, line],
    { cwd: dir, encoding: 'utf8' },
  );
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t')[0] ?? '');
}

/** Every command of the real program with its subcommands and long flags, read from commander. */
function commands(): Array<{ words: string[]; subs: string[]; flags: string[] }> {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
  const out: Array<{ words: string[]; subs: string[]; flags: string[] }> = [];
  const visit = (cmd: Command, words: string[]): void => {
    out.push({
      words,
      subs: cmd.commands.map((c) => c.name()),
      flags: cmd.options.map((o) => o.long ?? '').filter(Boolean),
    });
    for (const c of cmd.commands) visit(c, [...words, c.name()]);
  };
  visit(
    buildProgram(createContext(io, realClock), () => undefined),
    ['jr'],
  );
  return out;
}

describe('jr completion bash (sourced in a real bash)', () => {
  it('completes commands, subcommands and flags', () => {
    expect(bashComplete(['jr', ''])).toEqual([
      'submit',
      'status',
      'list',
      'logs',
      'wait',
      'retry',
      'cancel',
      'agents',
      'schedule',
      'tokens',
      'audit',
      'slo',
      'incidents',
      'config',
      'keys',
      'completion',
    ]);
    expect(bashComplete(['jr', 'ag'])).toEqual(['agents']);
    expect(bashComplete(['jr', 'tokens', ''])).toEqual([
      'create',
      'list',
      'revoke',
      'create-enroll',
      'list-enroll',
      'revoke-enroll',
    ]);
    expect(bashComplete(['jr', 'tokens', 'create', '--sc'])).toEqual(['--scope']);
    expect(bashComplete(['jr', 'agents', 'd'])).toEqual(['drain']);
    expect(bashComplete(['jr', 'config', 'u'])).toEqual(['use-context']);
    expect(bashComplete(['jr', 'list', '--st'])).toEqual(['--state']);
    expect(bashComplete(['jr', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
  });

  it('skips global flags and their values, and completes flag values', () => {
    expect(bashComplete(['jr', '--context', 'prod', 'agents', 'dr'])).toEqual(['drain']);
    expect(bashComplete(['jr', 'list', '--state', 'f'])).toEqual(['failed']);
    expect(bashComplete(['jr', 'list', '--pool', 'list', '--l'])).toEqual(['--limit']); // a flag's value is not a command
    fs.writeFileSync(path.join(dir, 'job.yaml'), 'steps: [{run: "true"}]\n');
    expect(bashComplete(['jr', 'submit', '-f', 'job.y'])).toEqual(['job.yaml']);
    expect(bashComplete(['jr', 'submit', '--', 'bas'])).toContain('bash'); // the job's own program
  });

  it('cannot drift: every command of the program offers exactly its subcommands and all its flags', () => {
    const all = commands();
    const offered = bashCompleteAll(
      all.flatMap((c) => [
        [...c.words, ''],
        [...c.words, '--'],
      ]),
    );
    all.forEach((c, i) => {
      const subs = c.words.join(' ') === 'jr completion' ? ['bash', 'zsh', 'fish'] : c.subs;
      expect({ words: c.words, subs: offered[2 * i] }).toEqual({ words: c.words, subs });
      const flags = [...new Set([...c.flags, '--help', '--api-url', '--token', '--context'])];
      expect({ words: c.words, flags: offered[2 * i + 1]?.filter((f) => flags.includes(f)).sort() }).toEqual({
        words: c.words,
        flags: flags.sort(),
      });
    });
    expect(all.length).toBeGreaterThan(15);
  });
});

describe('jr completion zsh and fish (the real shells)', () => {
  it('zsh: the script parses and its function completes commands, flags and values', () => {
    execFileSync(ensureShell('zsh'), ['-n', scripts.zsh]);
    expect(zshComplete(['jr', ''])).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^agents:agents: pool, labels, state/),
        expect.stringMatching(/^submit:/),
      ]),
    );
    expect(zshComplete(['jr', 'agents', ''])).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^drain:stop leasing/),
        expect.stringMatching(/^enable-reporting:/),
      ]),
    );
    expect(zshComplete(['jr', '--token', 'x', 'list', '--'])).toEqual(
      expect.arrayContaining([
        '--state:only jobs in this state',
        '--cursor:the page after the one that printed "more: --cursor <cursor>"',
      ]),
    );
    expect(zshComplete(['jr', 'list', '--state', ''])).toEqual([
      'queued',
      'leased',
      'running',
      'succeeded',
      'failed',
      'cancelled',
      'timed_out',
    ]);
    expect(zshComplete(['jr', 'submit', '--file', ''])).toEqual(['<files>']);
    expect(zshComplete(['jr', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
  });

  it('fish: complete -C answers from the script', () => {
    execFileSync(ensureShell('fish'), ['--no-execute', scripts.fish]);
    expect(fishComplete('jr ag')).toEqual(['agents']);
    expect(fishComplete('jr agents ')).toEqual(expect.arrayContaining(['drain', 'enable-reporting']));
    expect(fishComplete('jr --context prod config use')).toEqual(['use-context']);
    expect(fishComplete('jr list --state f')).toEqual(['failed']);
    expect(fishComplete('jr list --c')).toEqual(expect.arrayContaining(['--context', '--cursor']));
    expect(fishComplete('jr completion ')).toEqual(['bash', 'fish', 'zsh']);
  });
});
