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

  /**
   * Why a job with these secrets is refused: none while a key is configured. (A 400: retrying the same
   * request cannot help, the operator must set JR_SECRETS_KEY.)
   */
  refusal(secrets: Record<string, string>): string | undefined {
    if (this.box || Object.keys(secrets).length === 0) return undefined;
    return 'this API has no secrets key (JR_SECRETS_KEY): jobs with secrets are refused';
  }

  seal(jobId: string, secrets: Record<string, string>): Record<string, string> | undefined {
    if (Object.keys(secrets).length === 0) return undefined;
    if (!this.box) throw new Error('no secrets key');
    return this.box.sealAll(jobId, secrets);
  }

  /**
   * The values of the job's secrets `names` (its spec's list). Throws SecretOpenError when one is
   * missing or does not open (unknown key, altered or foreign ciphertext): never a partial set.
   */
  open(jobId: string, names: readonly string[], sealed: Record<string, unknown> | null): Record<string, string> {
    const missing = names.find((n) => !sealed || !Object.hasOwn(sealed, n));
    if (missing !== undefined) throw new SecretOpenError(missing, 'malformed');
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
