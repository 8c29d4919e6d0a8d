import type { Command, Option } from 'commander';

/** What a shell needs to complete one command: its subcommands, its flags and the values they take. */
export interface CompletionNode {
  /** `jr`, `jr agents`, `jr config set-context`, … */
  path: string;
  subcommands: Array<{ name: string; description: string }>;
  flags: CompletionFlag[];
  /** Fixed values of the first positional argument (e.g. bash|zsh|fish), if any. */
  argChoices: string[];
}

export interface CompletionFlag {
  /** `-f` and/or `--file` */
  names: string[];
  description: string;
  takesValue: boolean;
  /** Fixed values (e.g. job states), or empty. */
  choices: string[];
  /** The value is a path: complete file names. */
  files: boolean;
}

const HELP_FLAG: CompletionFlag = {
  names: ['-h', '--help'],
  description: 'display help for command',
  takesValue: false,
  choices: [],
  files: false,
};

/**
 * The completion model of a commander program, read from the program itself (so it cannot drift from
 * the commands): every command in depth-first order.
 */
export function completionModel(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (cmd: Command, path: string): void => {
    nodes.push({
      path,
      subcommands: cmd.commands
        .filter((c) => !isHidden(c))
        .map((c) => ({ name: c.name(), description: oneLine(c.summary() || c.description()) })),
      flags: [...cmd.options.map(flagOf), HELP_FLAG],
      argChoices: cmd.registeredArguments[0]?.argChoices ?? [],
    });
    for (const sub of cmd.commands) if (!isHidden(sub)) visit(sub, `${path} ${sub.name()}`);
  };
  visit(program, program.name());
  return nodes;
}

function flagOf(o: Option): CompletionFlag {
  const names = [o.short, o.long].filter((n): n is string => typeof n === 'string');
  const takesValue = o.required || o.optional;
  return {
    names,
    description: oneLine(o.description),
    takesValue,
    choices: o.argChoices ?? [],
    files: takesValue && /<(path|file)>/.test(o.flags),
  };
}

function isHidden(cmd: Command): boolean {
  return (cmd as unknown as { _hidden?: boolean })._hidden === true;
}

function oneLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}

/** A word in single quotes for sh, bash, zsh (and fish, whose single quotes escape only \ and '). */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function fishQuote(word: string): string {
  return `'${word.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
