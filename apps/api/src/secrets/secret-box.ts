import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Job secrets at rest: AES-256-GCM under keys with ids, so keys rotate. The first key of
 * `JR_SECRETS_KEY` seals, every key opens. Each value is sealed on its own, with the job id and the
 * secret's name as additional authenticated data: a ciphertext copied to another job or another name
 * does not open. Per-purpose keys are derived with HKDF, so the idempotency MAC never shares a key with
 * the cipher.
 *
 * Envelope (text, fits jsonb and the journal): `jrs1.<key id>.<iv>.<ciphertext+tag>`, base64url parts.
 */
export interface SecretKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const ENVELOPE_RE = /^jrs1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Why a sealed value did not open; the value itself is never part of the error. */
export class SecretOpenError extends Error {
  constructor(
    readonly secretName: string,
    readonly why: 'unknown_key' | 'malformed' | 'tampered',
    readonly keyId?: string,
  ) {
    super(`secret ${secretName} cannot be opened: ${why}${keyId ? ` (key ${keyId})` : ''}`);
    this.name = 'SecretOpenError';
  }
}

export class SecretBox {
  private readonly cipherKeys: Map<string, Buffer>;
  private readonly active: SecretKey;
  private readonly macKey: Buffer;

  constructor(keys: readonly SecretKey[]) {
    const first = keys[0];
    if (!first) throw new Error('SecretBox needs at least one key');
    this.active = first;
    this.cipherKeys = new Map(keys.map((k) => [k.id, derive(k.key, 'jobrunner secrets aes-256-gcm v1')]));
    this.macKey = derive(first.key, 'jobrunner idempotency hmac-sha256 v1');
  }

  get activeKeyId(): string {
    return this.active.id;
  }

  /** Seals every value of `secrets` for job `jobId`. */
  sealAll(jobId: string, secrets: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, this.seal(jobId, name, value)]));
  }

  seal(jobId: string, name: string, value: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.cipherKeyOf(this.active.id), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(jobId, name));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `jrs1.${this.active.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Opens every sealed value of job `jobId`; throws SecretOpenError on the first that does not open. */
  openAll(jobId: string, sealed: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, envelope] of Object.entries(sealed)) out[name] = this.open(jobId, name, envelope);
    return out;
  }

  open(jobId: string, name: string, envelope: unknown): string {
    const m = typeof envelope === 'string' ? ENVELOPE_RE.exec(envelope) : null;
    if (!m) throw new SecretOpenError(name, 'malformed');
    const [, keyId = '', ivText = '', bodyText = ''] = m;
    const key = this.cipherKeys.get(keyId);
    if (!key) throw new SecretOpenError(name, 'unknown_key', keyId);
    const body = Buffer.from(bodyText, 'base64url');
    const iv = Buffer.from(ivText, 'base64url');
    // canonical base64 only: unused trailing bits would let one ciphertext have several spellings
    if (body.length < TAG_BYTES || body.toString('base64url') !== bodyText || iv.toString('base64url') !== ivText)
      throw new SecretOpenError(name, 'malformed', keyId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(jobId, name));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      const text = plain.toString('utf8');
      // what was sealed was text; bytes that are not UTF-8 cannot have come from seal()
      if (!Buffer.from(text, 'utf8').equals(plain)) throw new Error('not UTF-8');
      return text;
    } catch {
      throw new SecretOpenError(name, 'tampered', keyId);
    }
  }

  /**
   * HMAC-SHA256 (hex) under a key derived from the active secrets key: the request hash of a job with
   * secrets, so the stored hash is no oracle for guessing a value, while the same request with the
   * same key still hashes the same.
   */
  mac(text: string): string {
    return createHmac('sha256', this.macKey).update(text, 'utf8').digest('hex');
  }

  private cipherKeyOf(id: string): Buffer {
    const key = this.cipherKeys.get(id);
    if (!key) throw new Error(`no secrets key ${id}`);
    return key;
  }
}

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
}

/** Binds a ciphertext to its job and name. */
function aad(jobId: string, name: string): Buffer {
  return Buffer.from(`jobrunner secret v1\n${jobId}\n${name}`, 'utf8');
}

/**
 * `JR_SECRETS_KEY`: `id:base64,id:base64…`, each key 32 bytes (standard or URL-safe base64); the first
 * seals, all open. Errors never repeat the key material.
 */
export function parseSecretKeys(text: string): { ok: true; keys: SecretKey[] } | { ok: false; message: string } {
  const keys: SecretKey[] = [];
  const parts = text.split(',').map((p) => p.trim());
  for (const [i, part] of parts.entries()) {
    const colon = part.indexOf(':');
    const id = colon > 0 ? part.slice(0, colon) : '';
    const material = part.slice(colon + 1);
    if (!KEY_ID_RE.test(id))
      return { ok: false, message: `key ${i + 1}: write id:base64 (id of 1-32 letters, digits, _ -)` };
    if (keys.some((k) => k.id === id)) return { ok: false, message: `key id ${id} appears twice` };
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material))
      return { ok: false, message: `key ${id}: not base64 (make one with: openssl rand -base64 32)` };
    const key = Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== 32)
      return { ok: false, message: `key ${id}: must be 32 bytes, got ${key.length} (openssl rand -base64 32)` };
    keys.push({ id, key });
  }
  return { ok: true, keys };
}
