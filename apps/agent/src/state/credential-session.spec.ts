import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import type { AgentApiClient } from '../api-client/agent-api.client';
import { parseAgentConfig } from '../config/agent-config';
import { CredentialSession } from './credential-session';
import { CredentialStore } from './credential-store';

describe('CredentialSession enrolment', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'jr-session-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a process that dies after its Enroll reached the API re-enrolls with the same credential secret', async () => {
    const parsed = parseAgentConfig({ JR_DATA_DIR: dir, JR_ENROLL_TOKEN: 'token', JR_INSECURE: '1', JR_NAME: 'a' });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const secrets: string[] = [];
    const session = (enroll: (signal: AbortController) => Promise<unknown>) => {
      const life = new AbortController();
      const api = {
        enroll: async (req: { credentialSecret: string }) => {
          secrets.push(req.credentialSecret);
          return enroll(life);
        },
      } as unknown as AgentApiClient;
      return CredentialSession.establish({
        api,
        store: new CredentialStore(dir),
        config: parsed.config,
        logger: pino({ level: 'silent' }),
        signal: life.signal,
        onFatal: () => undefined,
      });
    };
    // the API applied the first Enroll; its answer never came back: the process stops (SIGKILL, a crash)
    await expect(
      session(async (life) => {
        life.abort();
        throw Object.assign(new Error('the answer was lost'), { code: 14 });
      }),
    ).rejects.toThrow();
    const s = await session(async () => ({ agentId: 'a_1', credential: 'a_1.secret', heartbeatIntervalMs: 1_000 }));
    expect(s.agentId).toBe('a_1');
    expect(secrets).toHaveLength(2);
    expect(secrets[1]).toBe(secrets[0]);
    expect(existsSync(path.join(dir, 'enroll-secret'))).toBe(false);
  });
});
