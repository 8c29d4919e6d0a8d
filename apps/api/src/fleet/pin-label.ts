/** The label that pins a fleet target's run to its agent: every agent's Lease call carries it with its own id. */
export const PIN_LABEL = 'jr.agent';
