import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';

const agents = new Map<string, Agent>();

/**
 * `fetch` that trusts `ca` (PEM) for https URLs: what tests use instead of the global fetch, which
 * cannot be given a CA. Without `ca` (or for http) it is a plain fetch.
 */
export async function fetchTrusting(url: string | URL, init: RequestInit & { ca?: string } = {}): Promise<Response> {
  const { ca, ...rest } = init;
  let dispatcher: Agent | undefined;
  if (ca !== undefined && String(url).startsWith('https:')) {
    dispatcher = agents.get(ca);
    if (!dispatcher) agents.set(ca, (dispatcher = new Agent({ connect: { ca } })));
  }
  return undiciFetch(url, { ...(rest as UndiciRequestInit), ...(dispatcher ? { dispatcher } : {}) });
}
