import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { removeDurable, writeFileAtomic } from './durable-file';
import { status as Status } from '@grpc/grpc-js';
import { Backoff, sleep } from '@jr/resilience';
import type { Logger } from 'pino';
import { DEADLINES_MS, type AgentApiClient, type CredentialSource } from '../api-client/agent-api.client';
import type { AgentConfig } from '../config/agent-config';
import { hasEnrollToken, readEnrollToken } from '../config/enroll-token';
import { AgentStopError, isApiCallError, retryDelayMs, stopErrorFor } from '../errors';
import { AGENT_VERSION } from '../version';
import type { CredentialStore, EnrolledIdentity, StoredCredential } from './credential-store';
import type { AgentIdentity, ClientCertificate } from './agent-identity';

export interface SessionDeps {
  api: AgentApiClient;
  store: CredentialStore;
  config: AgentConfig;
  logger: Logger;
  /** The agent's lifetime: enrolling retries transient failures until it aborts. */
  signal: AbortSignal;
  /** Called with the precise reason when re-enrolling fails for good. */
  onFatal(err: AgentStopError): void;
  newBackoff?: () => Backoff;
  /** The machine key and client certificate (mutual TLS); absent in plain text. */
  identity?: AgentIdentity;
  /** A new client certificate was stored (enrolment, renewal): the channel must present it from now on. */
  onCertificate?(cert: ClientCertificate): void;
}

/**
 * The agent's identity: the stored credential, or a fresh one from enrolling. On UNAUTHENTICATED it
 * re-enrolls at most once per process (when an enroll token is configured); never a loop.
 */
export class CredentialSession implements CredentialSource {
  private reEnrolled = false;
  private inflight: Promise<boolean> | undefined;

  private constructor(
    private stored: StoredCredential,
    private readonly deps: SessionDeps,
  ) {}

  /** Loads the stored credential, or enrolls (retrying transient failures until the agent stops). */
  static async establish(deps: SessionDeps): Promise<CredentialSession> {
    const loaded = await deps.store.load();
    if (loaded.state === 'ok') {
      const stored = loaded.credential;
      if (!sameIdentity(stored.identity, identityOf(deps.config))) {
        if (hasEnrollToken(deps.config)) {
          deps.logger.info(
            { agentId: stored.agentId },
            'name, pool, labels or slots changed since enrolling; enrolling again under the same id',
          );
          return new CredentialSession(await enroll(deps, await readEnrollToken(deps.config), stored), deps);
        }
        deps.logger.warn(
          { agentId: stored.agentId },
          'name, pool, labels or slots changed, but JR_ENROLL_TOKEN is not set: the API keeps the enrolled ones',
        );
      }
      deps.logger.info({ agentId: stored.agentId, file: deps.store.file }, 'using the stored credential');
      return new CredentialSession(stored, deps);
    }
    if (loaded.state === 'unreadable')
      deps.logger.warn(
        { file: deps.store.file, detail: loaded.detail },
        'stored credential unreadable; enrolling again',
      );
    if (!hasEnrollToken(deps.config)) {
      const why =
        loaded.state === 'absent' ? 'no stored credential' : `the stored credential is unreadable (${loaded.detail})`;
      throw new AgentStopError(
        'no_enroll_token',
        `${why} in ${deps.store.file} and JR_ENROLL_TOKEN is not set: cannot enroll`,
      );
    }
    return new CredentialSession(await enroll(deps, await readEnrollToken(deps.config), undefined), deps);
  }

  get agentId(): string {
    return this.stored.agentId;
  }

  current(): string {
    return this.stored.credential;
  }

  /**
   * Re-enrolls once per process; concurrent callers share the one attempt. A lapsed client certificate
   * (the API accepts only Enroll then) re-enrolls whenever it is refused, with the enroll token, proving
   * the agent's key by the CSR and its credential by previous_credential.
   */
  async recover(refused: string): Promise<boolean> {
    if (refused !== this.stored.credential) return true;
    if (this.inflight) return this.inflight;
    const lapsed = this.deps.identity?.lapsed() ?? false;
    if (lapsed && !hasEnrollToken(this.deps.config)) {
      this.deps.onFatal(lapsedWithoutToken(this.deps.identity?.certificate?.notAfterMs ?? 0));
      return false;
    }
    if ((this.reEnrolled && !lapsed) || !hasEnrollToken(this.deps.config)) return false;
    this.reEnrolled = true;
    this.deps.logger.warn(
      { agentId: this.stored.agentId, lapsed },
      lapsed ? 'client certificate expired; enrolling again' : 'credential refused; enrolling again once',
    );
    this.inflight = readEnrollToken(this.deps.config)
      .then((token) => enroll(this.deps, token, this.stored))
      .then(
        (fresh) => {
          this.stored = fresh;
          return true;
        },
        (err: unknown) => {
          if (err instanceof AgentStopError) this.deps.onFatal(err);
          return false;
        },
      );
    return this.inflight.finally(() => (this.inflight = undefined));
  }
}

function lapsedWithoutToken(notAfterMs: number): AgentStopError {
  return new AgentStopError(
    'auth_refused',
    `the agent's client certificate expired at ${new Date(notAfterMs).toISOString()} (it was not renewed in time) and only enrolling again can replace it: set JR_ENROLL_TOKEN`,
  );
}

/**
 * Enrolls and stores the credential; retries only what the status table calls transient. Re-enrolling
 * (`previous`) proves possession of the agent's credential: the API refuses to re-enroll an existing
 * agent, by id or by name, for anyone holding only the enroll token.
 */
const enrollSecretFile = (deps: SessionDeps): string => path.join(path.dirname(deps.store.file), 'enroll-secret');

/**
 * The credential secret of the enrolment in progress: the one an interrupted earlier attempt saved (its
 * Enroll may have reached the API, whose agent row now holds it), else a new one, saved before it is sent.
 */
async function pendingEnrollSecret(deps: SessionDeps): Promise<string> {
  const file = enrollSecretFile(deps);
  const saved = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[A-Za-z0-9_-]{43}$/.test(saved)) return saved;
  const secret = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, secret);
  return secret;
}

async function enroll(
  deps: SessionDeps,
  token: string | undefined,
  previous: StoredCredential | undefined,
): Promise<StoredCredential> {
  const { config, api, logger, signal } = deps;
  const backoff = deps.newBackoff?.() ?? new Backoff({ initialMs: 500, maxMs: 15_000 });
  const req = {
    name: config.name,
    pool: config.pool,
    labels: config.labels,
    slots: config.slots,
    version: AGENT_VERSION,
    previousAgentId: previous?.agentId ?? '',
    previousCredential: previous?.credential ?? '',
    // one secret for every retry of this enrolment, kept on disk until the credential is: a retry whose
    // first answer was lost, even from a process restarted in between, gets the same agent
    credentialSecret: await pendingEnrollSecret(deps),
    // over TLS the API signs it into our client certificate; re-enrolling, it proves we hold the agent's key
    csrPem: deps.identity?.csrPem ?? '',
  };
  if (token === undefined) throw new AgentStopError('no_enroll_token', 'no enroll token to enroll with');
  for (;;) {
    try {
      const res = await api.enroll(req, token, { deadlineMs: DEADLINES_MS.enroll, signal });
      const stored = {
        agentId: res.agentId,
        credential: res.credential,
        apiAddress: config.apiAddress,
        enrolledAt: new Date().toISOString(),
        identity: identityOf(config),
      };
      if (!stored.agentId || !/^[\x21-\x7e]{1,4096}$/.test(stored.credential))
        throw new AgentStopError('auth_refused', 'the API answered Enroll without a usable credential');
      await deps.store.save(stored);
      await removeDurable(enrollSecretFile(deps)).catch(() => undefined);
      if (res.certificateChainPem && deps.identity) {
        const cert = await deps.identity.adopt(res.certificateChainPem);
        deps.onCertificate?.(cert);
      }
      logger.info(
        { agentId: stored.agentId, file: deps.store.file, clientCertificate: Boolean(res.certificateChainPem) },
        'enrolled',
      );
      return stored;
    } catch (err) {
      if (signal.aborted || !isApiCallError(err)) throw err;
      if (err.action === 'stop' && err.code === Status.UNAVAILABLE) throw stopErrorFor(err); // TLS trust
      if (err.action !== 'retry') {
        // UNAUTHENTICATED: the token itself; PERMISSION_DENIED: what it was asked for (pool, labels, an existing agent)
        const hint = err.code === Status.UNAUTHENTICATED ? '; check JR_ENROLL_TOKEN' : '';
        throw new AgentStopError(
          'auth_refused',
          `the API refused to enroll this agent (${Status[err.code] ?? err.code}: ${err.details || err.message})${hint}`,
        );
      }
      logger.warn({ code: err.code, details: err.details, pushbackMs: err.pushbackMs }, 'enroll failed; retrying');
      await sleep(retryDelayMs(err, backoff.next()), signal);
    }
  }
}

function identityOf(config: AgentConfig): EnrolledIdentity {
  return { name: config.name, pool: config.pool, labels: config.labels, slots: config.slots };
}

/** A credential stored before identities were recorded counts as unchanged. */
function sameIdentity(stored: EnrolledIdentity | undefined, current: EnrolledIdentity): boolean {
  if (!stored) return true;
  const labels = (l: Record<string, string>): string =>
    JSON.stringify(Object.entries(l).sort(([a], [b]) => a.localeCompare(b)));
  return (
    stored.name === current.name &&
    stored.pool === current.pool &&
    stored.slots === current.slots &&
    labels(stored.labels) === labels(current.labels)
  );
}
