import type { Command } from 'commander';
import { createContext } from './context';
import { buildProgram, run } from './program';
import type { OutStream } from './output';
import { realClock } from './timing';

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

function commandPaths(): string[][] {
  const io = { stdout: capture(), stderr: capture(), env: {} };
  const paths: string[][] = [];
  const visit = (cmd: Command, words: string[]): void => {
    paths.push(words);
    for (const c of cmd.commands) visit(c, [...words, c.name()]);
  };
  visit(
    buildProgram(createContext(io, realClock), () => undefined),
    [],
  );
  return paths;
}

describe('--help examples', () => {
  it('every command ends its --help with examples that use it', async () => {
    const paths = commandPaths();
    expect(paths.length).toBeGreaterThan(15);
    for (const words of paths) {
      const stdout = capture();
      const code = await run([...words, '--help'], { stdout, stderr: capture(), env: {} });
      expect({ words, code, examples: /\nExamples:\n {2}\$ /.test(stdout.text) }).toEqual({
        words,
        code: 0,
        examples: true,
      });
      expect({
        words,
        uses:
          stdout.text.slice(stdout.text.indexOf('Examples:')).includes(['jr', ...words].join(' ')) ||
          words.join(' ') === 'completion',
      }).toEqual({ words, uses: true });
    }
  });

  it('shows --api-url, --token and --context once, as global options of every command', async () => {
    const stdout = capture();
    await run(['agents', 'drain', '--help'], { stdout, stderr: capture(), env: {} });
    expect(stdout.text).toMatch(/Global Options:[\s\S]*--api-url <url>[\s\S]*--token <token>[\s\S]*--context <name>/);
    expect(stdout.text.match(/--api-url/g)).toHaveLength(1);
  });
});
