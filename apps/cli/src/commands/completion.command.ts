import { Argument, type Command } from 'commander';
import { bashScript } from '../completion/bash-completion';
import { completionModel } from '../completion/completion-model';
import { fishScript } from '../completion/fish-completion';
import { zshScript } from '../completion/zsh-completion';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

export function registerCompletion(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, subcommands, flags and their values)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(Object.keys(SHELLS)))
    .action((shell: keyof typeof SHELLS, _opts: unknown, cmd: Command) => {
      let root = cmd;
      while (root.parent) root = root.parent;
      ctx.io.stdout.write(SHELLS[shell](completionModel(root)));
      setExit(EXIT.OK);
    });
}
