import { AgentNotRunningError, sendControlCommand } from './control-client';
import { controlSocketPath, type ControlResponse } from './control-protocol';

interface Out {
  write(text: string): unknown;
}

/** EX_UNAVAILABLE (as the CLI when the API is unreachable) and EX_SOFTWARE. */
const EXIT_NOT_RUNNING = 69;
const EXIT_FAILED = 70;

/** `jr-agent reporting enable|status`: asks the running agent over its control socket. */
export async function runControlCommand(
  dataDir: string,
  what: 'enable' | 'status',
  o: { json: boolean; stdout: Out; stderr: Out },
): Promise<number> {
  let res: ControlResponse;
  try {
    res = await sendControlCommand(
      controlSocketPath(dataDir),
      what === 'enable' ? 'reporting.enable' : 'reporting.status',
    );
  } catch (err) {
    o.stderr.write(`jr-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof AgentNotRunningError ? EXIT_NOT_RUNNING : EXIT_FAILED;
  }
  if (!res.ok) {
    o.stderr.write(`jr-agent: the agent refused: ${res.error}\n`);
    return EXIT_FAILED;
  }
  if (o.json) o.stdout.write(`${JSON.stringify(res)}\n`);
  else o.stdout.write(describe(what, res));
  return 0;
}

function describe(what: 'enable' | 'status', res: Record<string, unknown>): string {
  const r = res as {
    wasOpen?: boolean;
    reporting?: {
      breaker: { state: string; since?: string; reason?: string };
      outbox: { depth: number; oldestAgeMs: number; bytes: number; gapBytes: number };
    };
    heartbeats?: { ok: number; failed: number; maxLagMs: number };
    attempts?: { running: number; slots: number; undelivered: number };
  };
  const b = r.reporting?.breaker;
  const ob = r.reporting?.outbox;
  const lines: string[] = [];
  if (what === 'enable')
    lines.push(
      r.wasOpen ? 'reporting re-enabled: the outbox drains in order' : 'reporting was not suspended: nothing to do',
    );
  if (b) lines.push(`breaker: ${b.state}${b.since ? ` since ${b.since}` : ''}${b.reason ? ` (${b.reason})` : ''}`);
  if (ob)
    lines.push(
      `outbox: ${ob.depth} queued, oldest ${Math.round(ob.oldestAgeMs / 1000)}s, ${ob.bytes} bytes${ob.gapBytes > 0 ? `, ${ob.gapBytes} log bytes dropped (gap markers)` : ''}`,
    );
  if (r.attempts)
    lines.push(
      `attempts: ${r.attempts.running}/${r.attempts.slots} running, ${r.attempts.undelivered} outcomes undelivered`,
    );
  if (r.heartbeats)
    lines.push(
      `heartbeats: ${r.heartbeats.ok} ok, ${r.heartbeats.failed} failed, max timer lag ${r.heartbeats.maxLagMs}ms`,
    );
  return `${lines.join('\n')}\n`;
}
