import { DomainError } from '@jr/contracts';
import { SecretBox, SecretOpenError } from './secret-box';

/**
 * The API's one door to job secrets: sealed at intake (after the job id exists, which the ciphertext
 * is bound to), opened at lease time only. Without a key (no JR_SECRETS_KEY, no JR_DEV key file) a job
 * with secrets is refused; jobs without secrets are unaffected.
 */
export class SecretsService {
  constructor(private readonly box: SecretBox | null) {}

  get enabled(): boolean {
    return this.box !== null;
  }

  /** Refuses a job with secrets while no key is configured (400: retrying cannot help, the operator must act). */
  assertAccepted(secrets: Record<string, string>): void {
    if (this.box || Object.keys(secrets).length === 0) return;
    const message = 'this API has no secrets key (JR_SECRETS_KEY): jobs with secrets are refused';
    throw new DomainError('INVALID_INPUT', message, { errors: [{ path: 'secrets', message }] });
  }

  seal(jobId: string, secrets: Record<string, string>): Record<string, string> | undefined {
    if (Object.keys(secrets).length === 0) return undefined;
    if (!this.box) throw new Error('no secrets key');
    return this.box.sealAll(jobId, secrets);
  }

  /** Throws SecretOpenError when a value does not open (unknown key, altered ciphertext). */
  open(jobId: string, sealed: Record<string, unknown> | null | undefined): Record<string, string> {
    if (!sealed || Object.keys(sealed).length === 0) return {};
    if (!this.box) throw new SecretOpenError(Object.keys(sealed)[0] ?? '', 'unknown_key');
    return this.box.openAll(jobId, sealed);
  }

  /**
   * The idempotency hash of a job with secrets: an HMAC over the canonical job and the values, so the
   * hash Postgres keeps tells nothing about the values to someone without the key.
   */
  requestHash(canonicalJob: string, secrets: Record<string, string>): string {
    if (!this.box) throw new Error('no secrets key');
    const values = Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `hmac:${this.box.mac(JSON.stringify([canonicalJob, values]))}`;
  }
}
