// The `jr-agent` daemon. Configuration comes from the environment only (see config/agent-config.ts).
import { runAgentCli } from './agent-cli';

void runAgentCli(process.env, { stderr: process.stderr, signals: process }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`jr-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
