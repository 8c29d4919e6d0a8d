// The `jr-agent` daemon (configured by the environment only, see config/agent-config.ts), and its
// local commands `jr-agent reporting enable|status` (see control/).
import { runAgentCli } from './agent-cli';

void runAgentCli(
  process.env,
  { stdout: process.stdout, stderr: process.stderr, signals: process },
  process.argv.slice(2),
).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`jr-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
