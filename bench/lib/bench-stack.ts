/** A real jr-api (own database and key prefix) with quiet logs, torn down whatever the section does. */
import { replicatedStackOptions, Stack, waitFor, type StackOptions } from '@jr/testing';
import { onInterrupt } from './cleanup';

export interface BenchStackOptions {
  heartbeatInterval?: string;
  /** Agents to start (enrolled and active before the section runs). */
  agents?: number;
  slots?: number;
  /** JR_INSECURE=1 on the whole stack (plain-text REST and gRPC): the reference of the TLS cost. */
  insecure?: boolean;
  /**
   * Start a second jr-api replica of this name (the stack then shares one server CA and one agent CA
   * between its replicas, replicatedStackOptions) and connect the agents to it only.
   */
  agentsOnReplica?: string;
}

/**
 * The bench measures capacity, so the rate limits are set explicitly far above what one machine can
 * push (one token, one address, thousands of simulated agents enrolling from loopback). The limiters
 * stay in the path, so their cost (Redis round trips per request) is part of every figure.
 */
export const BENCH_LIMITS: Readonly<Record<string, string>> = {
  JR_RATE_LIMIT_TOKEN: '100000000/10s',
  JR_RATE_LIMIT_ADDRESS: '100000000/10s',
  JR_RATE_LIMIT_AGENT: '100000000/10s',
  JR_RATE_LIMIT_ENROLL: '100000000/1m',
};

/**
 * Quiet logs; `JR_BENCH_API_NODE_OPTIONS` reaches jr-api as NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`),
 * `JR_BENCH_AGENT_NODE_OPTIONS` the agents.
 */
function apiEnv(): Record<string, string> {
  const nodeOptions = process.env.JR_BENCH_API_NODE_OPTIONS;
  return { JR_LOG_LEVEL: 'warn', ...BENCH_LIMITS, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) };
}

function agentEnv(): Record<string, string> {
  const nodeOptions = process.env.JR_BENCH_AGENT_NODE_OPTIONS;
  return { JR_LOG_LEVEL: 'warn', ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) };
}

async function stackOptions(o: BenchStackOptions): Promise<StackOptions> {
  const env = { ...apiEnv(), ...(o.insecure ? { JR_INSECURE: '1' } : {}) };
  if (o.agentsOnReplica === undefined) return { apiEnv: env };
  const replicated = await replicatedStackOptions();
  return { ...replicated, apiEnv: { ...replicated.apiEnv, ...env } };
}

/**
 * Runs `body` against a fresh stack; the stack (processes, database, key prefix, its directory) is
 * removed afterwards even when `body` or the start-up throws.
 */
export async function withStack<T>(o: BenchStackOptions, body: (stack: Stack) => Promise<T>): Promise<T> {
  const stack = new Stack(o.heartbeatInterval ?? '10s', await stackOptions(o));
  const release = onInterrupt(() => stack.close());
  try {
    await stack.start();
    const grpcTarget =
      o.agentsOnReplica === undefined ? stack.grpcAddress : (await stack.startReplica(o.agentsOnReplica)).grpcAddress;
    await Promise.all(
      Array.from({ length: o.agents ?? 0 }, (_, i) =>
        stack.startAgent(`bench-${i}`, { slots: o.slots ?? 8, grpcTarget, extraEnv: agentEnv() }),
      ),
    );
    return await body(stack);
  } catch (err) {
    if (err instanceof Error && stack.api) err.message += `\n${stack.diagnostics().slice(-4_000)}`;
    throw err;
  } finally {
    release();
    await stack.close();
  }
}

/** Waits until the API's relay has applied every journaled submission to Postgres and BullMQ. */
export async function relayDrained(stack: Stack, timeoutMs = 600_000): Promise<number> {
  const started = performance.now();
  await waitFor(async () => /"0 submissions not yet applied"/.test(await (await stack.fetch('/readyz')).text()), {
    timeoutMs,
    intervalMs: 100,
    what: 'the relay to apply the backlog',
  });
  return (performance.now() - started) / 1_000;
}
