import type { Command } from 'commander';

/** `Examples:` at the end of each command's --help, by command path (a test checks every command has some). */
const EXAMPLES: Record<string, string[]> = {
  jr: [
    'jr submit --wait -- make test',
    'jr list --state failed',
    'jr --context prod status j_01hz…',
    'source <(jr completion bash)',
  ],
  'jr submit': [
    'jr submit -- make -j4 test                  # argv, no shell',
    'jr submit --shell "make build | tee log"    # a shell command line',
    'jr submit --pool web --label gpu=true --retries 2 --timeout 10m -- ./train',
    'jr submit -f job.yaml --wait                # a job file; exit with its outcome',
    'jr submit --json -- true | jq -r .id',
    'JR_JOB_SIGNING_KEY=~/.config/jr/job-signing.key jr submit -- ./deploy   # signed',
    'jr submit --pool web --target role=web --batch 10% --max-failures 5% --delivery-timeout 10m --wait -- ./patch',
    'jr submit --target-agent web-1 --target-agent web-2 --rollout batching --batch 1 --pause 30s -- ./restart',
  ],
  'jr status': [
    'jr status j_01hz…',
    'jr status j_01hz… --json | jq .steps',
    'jr status j_01hz… --json | jq -r \'.targetList[] | select(.state == "failed") | .name\'   # a fleet job',
  ],
  'jr list': [
    'jr list',
    'jr list --state failed --pool web --limit 20',
    'jr list --cursor <cursor>       # the next page, as printed after "more:"',
    'jr list --all --json | jq ".items | length"',
  ],
  'jr logs': [
    'jr logs j_01hz…',
    'jr logs -f j_01hz…',
    'jr logs j_01hz… | grep -i error',
    'jr logs j_01hz… --target web-3 -f    # one target of a fleet job',
  ],
  'jr wait': ['jr wait j_01hz…', 'jr wait j_01hz… --timeout 10m || echo "exit $?"'],
  'jr retry': [
    'jr retry j_01hz… --failed           # the targets that failed, timed out or were cancelled',
    'jr retry j_01hz… --remaining --wait # the targets that never ran',
  ],
  'jr cancel': ['jr cancel j_01hz…'],
  'jr agents': ['jr agents', 'jr agents --json | jq ".items[] | select(.state != \\"active\\")"'],
  'jr agents enable-reporting': ['jr agents enable-reporting a_01hz…', 'jr agents enable-reporting --all'],
  'jr agents drain': ['jr agents drain a_01hz…'],
  'jr agents undrain': ['jr agents undrain a_01hz…'],
  'jr agents rm': ['jr agents rm a_01hz…'],
  'jr tokens': [
    'jr tokens create --scope jobs:submit,jobs:read --pool web --ttl 30d --name ci-web',
    'jr tokens list',
    'jr tokens revoke t_01hz…',
    'jr tokens create-enroll --pool web --label os=linux --uses 10 --ttl 1h',
  ],
  'jr tokens create': [
    'jr tokens create --scope jobs:submit,jobs:read --pool web --ttl 30d --name ci-web',
    'jr tokens create --scope metrics:read --ttl 366d --name prometheus --json | jq -r .token > /etc/prometheus/jr.token',
  ],
  'jr tokens list': ['jr tokens list', 'jr tokens list --json | jq ".items[] | select(.state == \\"active\\")"'],
  'jr tokens revoke': ['jr tokens revoke t_01hz…'],
  'jr slo': [
    'jr slo                              # the objectives over their window (30d by default)',
    'jr slo --window 7d',
    "jr slo --json | jq '.objectives[] | {name, attainment, budgetRemaining}'",
  ],
  'jr slo rules': [
    'jr slo rules > /etc/prometheus/rules/jobrunner-slo.yml && promtool check rules /etc/prometheus/rules/jobrunner-slo.yml',
    'jr slo rules --file slo.yaml        # from an objectives file, without the API',
  ],
  'jr slo report': ['jr slo report --html slo.html', 'jr slo report --html /var/www/sla/index.html --window 90d'],
  'jr incidents': ['jr incidents', "jr incidents --window 7d --json | jq '.items[] | select(.outage)'"],
  'jr audit': ['jr audit', 'jr audit --action jobs.cancel --since 1d', 'jr audit --actor t_01hz… --limit 200 --json'],
  'jr agents revoke': ['jr agents revoke a_01hz…     # then, to let the machine enroll again: jr agents rm a_01hz…'],
  'jr tokens create-enroll': [
    'jr tokens create-enroll --pool web --label os=linux --uses 10 --ttl 1h --name "web fleet"',
    'jr tokens create-enroll --pool gpu --uses 1 --ttl 30m --json | jq -r .token',
  ],
  'jr tokens list-enroll': [
    'jr tokens list-enroll',
    'jr tokens list-enroll --json | jq ".items[] | select(.state == \\"active\\")"',
  ],
  'jr tokens revoke-enroll': ['jr tokens revoke-enroll et_01hz…'],
  'jr config': [
    'jr config set-context prod --api-url https://jr.example.com:8080 --token-file ~/.config/jr/prod.token',
    'jr config use-context prod',
    'jr config get-contexts',
  ],
  'jr config get-contexts': ['jr config get-contexts', 'jr config get-contexts --json'],
  'jr config current-context': ['jr config current-context'],
  'jr config use-context': ['jr config use-context prod'],
  'jr config set-context': [
    'jr config set-context prod --api-url https://jr.example.com:8080 --token-file ~/.config/jr/prod.token --ca-file /etc/jr/ca.pem',
    'jr config set-context local --api-url http://127.0.0.1:8080',
  ],
  'jr config delete-context': ['jr config delete-context old'],
  'jr keys': ['jr keys generate --out ~/.config/jr', 'jr keys id ~/.config/jr/job-signing.pub'],
  'jr keys generate': ['jr keys generate --out ~/.config/jr', 'jr keys generate --out /etc/jr --name ci-2030 --json'],
  'jr keys id': ['jr keys id ~/.config/jr/job-signing.key', 'jr keys id /etc/jr-agent/job-verify.pem'],
  'jr completion': [
    'source <(jr completion bash)',
    'jr completion zsh > "${fpath[1]}/_jr"',
    'jr completion fish > ~/.config/fish/completions/jr.fish',
  ],
};

/** Adds the examples to every command of the tree that has some; returns the paths that have none. */
export function addExamples(program: Command): string[] {
  const missing: string[] = [];
  const visit = (cmd: Command, path: string): void => {
    const lines = Object.hasOwn(EXAMPLES, path) ? EXAMPLES[path] : undefined;
    if (lines) cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
    else missing.push(path);
    for (const sub of cmd.commands) visit(sub, `${path} ${sub.name()}`);
  };
  visit(program, program.name());
  return missing;
}
