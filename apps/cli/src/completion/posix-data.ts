import { shQuote, type CompletionNode } from './completion-model';

/**
 * The case tables bash and zsh scripts share: `_jr_subs CMD`, `_jr_flags CMD`, `_jr_takes_value CMD FLAG`
 * (status 0 when FLAG takes a value) and `_jr_value_kind CMD FLAG` (`files`, or the fixed values).
 */
export function posixData(nodes: readonly CompletionNode[]): string {
  const table = (fn: string, pick: (n: CompletionNode) => string[]): string =>
    `${fn}() {\n  case "$1" in\n${nodes.map((n) => `    ${shQuote(n.path)}) printf '%s\\n' ${pick(n).map(shQuote).join(' ') || "''"} ;;`).join('\n')}\n  esac\n}\n`;
  const valued = nodes.flatMap((n) =>
    n.flags.filter((f) => f.takesValue).flatMap((f) => f.names.map((name) => ({ key: `${n.path} ${name}`, f }))),
  );
  const takes = `_jr_takes_value() {\n  case "$1 $2" in\n${valued.map((v) => `    ${shQuote(v.key)}) return 0 ;;`).join('\n')}\n  esac\n  return 1\n}\n`;
  const kinds = valued.filter((v) => v.f.files || v.f.choices.length > 0);
  const kind = `_jr_value_kind() {\n  case "$1 $2" in\n${kinds.map((v) => `    ${shQuote(v.key)}) printf '%s\\n' ${(v.f.files ? ['files'] : v.f.choices).map(shQuote).join(' ')} ;;`).join('\n')}\n  esac\n}\n`;
  return [
    table('_jr_subs', (n) => n.subcommands.map((s) => s.name)),
    table('_jr_flags', (n) => n.flags.flatMap((f) => f.names)),
    table('_jr_args', (n) => n.argChoices),
    takes,
    kind,
  ].join('\n');
}

/** The loop both shells run over the words before the cursor: which command is being typed, and is a flag value expected? */
export function posixWalk(first: string, last: string, word: string): string {
  return `  local cmd='jr' expect='' i w s
  for ((i = ${first}; i < ${last}; i++)); do
    w=${word}
    if [[ -n $expect ]]; then expect=''; continue; fi
    if [[ $w == -- ]]; then cmd="$cmd --"; break; fi
    if [[ $w == -* ]]; then
      if [[ $w != *=* ]] && _jr_takes_value "$cmd" "$w"; then expect=$w; fi
      continue
    fi
    for s in $(_jr_subs "$cmd"); do
      if [[ $s == "$w" ]]; then cmd="$cmd $w"; break; fi
    done
  done
`;
}
