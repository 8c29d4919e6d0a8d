import { agentStatusSchema, formatStatus, printable } from './agent-status';
import { AgentNotRunningError, sendControlCommand } from './control-client';
import { controlSocketPath } from './control-protocol';

interface Out {
  write(text: string): unknown;
}

/** Exit codes of `jr-agent status`: healthy, degraded, no agent (EX_UNAVAILABLE), unreadable answer (EX_SOFTWARE). */
export const STATUS_EXIT = { healthy: 0, degraded: 1, notRunning: 69, failed: 70 } as const;

/**
 * `jr-agent status [--json]`: asks the agent running on `dataDir` how it is (over its control socket)
 * and prints it; the exit code says healthy (0), degraded (1: breaker open or heartbeats failing) or
 * that no agent runs there (69).
 */
export async function runStatusCommand(
  dataDir: string,
  o: { json: boolean; stdout: Out; stderr: Out; timeoutMs?: number },
): Promise<number> {
  let answer: unknown;
  try {
    answer = await sendControlCommand(controlSocketPath(dataDir), 'agent.status', o.timeoutMs);
  } catch (err) {
    o.stderr.write(`jr-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof AgentNotRunningError ? STATUS_EXIT.notRunning : STATUS_EXIT.failed;
  }
  const refused = answer as { ok: boolean; error?: unknown };
  if (!refused.ok) {
    o.stderr.write(
      `jr-agent: the agent refused: ${printable(String(refused.error).slice(0, 500))} (an older jr-agent without \`status\`?)\n`,
    );
    return STATUS_EXIT.failed;
  }
  const parsed = agentStatusSchema.safeParse(answer);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 5)
      .map((i) => i.path.join('.') || '(root)')
      .join(', ');
    o.stderr.write(`jr-agent: unreadable status from the agent (${where})\n`);
    return STATUS_EXIT.failed;
  }
  const status = parsed.data;
  o.stdout.write(o.json ? `${JSON.stringify(status)}\n` : formatStatus(status));
  return status.health === 'healthy' ? STATUS_EXIT.healthy : STATUS_EXIT.degraded;
}
