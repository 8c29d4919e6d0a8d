import { z } from 'zod';
import { JOB_STATES } from '@jr/contracts';
import type { SharedEvent } from '../common/events';

/** One message on the replicas' channel: who sent it (a process, not a replica name) and its events. */
export interface BusMessage {
  from: string;
  events: SharedEvent[];
}

const id = z.string().min(1).max(200);
const event = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('job'),
    change: z.union([
      z.object({ jobId: id, kind: z.literal('log') }),
      z.object({ jobId: id, kind: z.literal('state'), state: z.enum(JOB_STATES) }),
    ]),
  }),
  z.object({ type: z.literal('agent-drained'), agentId: id }),
  z.object({ type: z.literal('agent-revoked'), agentId: id }),
]);
const message = z.object({ from: id, events: z.array(event).max(10_000) });

/**
 * The message, or undefined when it is none of ours (another program on the channel, another version):
 * what a replica acts on is checked like any other input.
 */
export function parseBusMessage(text: string): BusMessage | undefined {
  try {
    const parsed = message.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
