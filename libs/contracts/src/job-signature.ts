import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import canonicalize from 'canonicalize';
import { z } from 'zod';
import type { JobSignature as ProtoJobSignature } from './generated/jobrunner/v1/JobSignature';
import type { JobSpec as ProtoJobSpec } from './generated/jobrunner/v1/JobSpec';

/**
 * Signed jobs: the submitter (`jr submit` with JR_JOB_SIGNING_KEY) signs the job as the agent will see
 * it; an agent with JR_JOB_VERIFY_KEYS runs nothing whose signature is missing, expired, by a key it does
 * not hold, or does not match. The API, Postgres and Redis only carry the signature: none of them can
 * change a step, a command, the env, an artifact or a timeout of a signed job without the agent noticing.
 */

export const SIGNATURE_ALG = 'ed25519';
/** Domain separation: a signature made for anything else with the same key never verifies as a job's. */
export const SIGNATURE_PURPOSE = 'jobrunner.job.v1';

const KEY_ID_RE = /^[a-f0-9]{16}$/;
/** An Ed25519 signature (64 bytes) in base64url without padding. */
const SIG_RE = /^[A-Za-z0-9_-]{86}$/;

/** The `signature` field of a job document, as `POST /v1/jobs` takes it and the lease carries it. */
export const jobSignatureSchema = z.strictObject({
  alg: z.literal(SIGNATURE_ALG, { error: `must be "${SIGNATURE_ALG}"` }),
  keyId: z.string().regex(KEY_ID_RE, 'must be 16 lowercase hex digits'),
  sig: z.string().regex(SIG_RE, 'must be 86 base64url characters (an Ed25519 signature)'),
  notAfter: z.iso.datetime({ error: 'must be an RFC 3339 UTC time such as 2030-01-01T00:00:00Z' }),
});

export type JobSignature = z.output<typeof jobSignatureSchema>;

/**
 * The job as the agent receives it (the lease's JobSpec), before or after the protocol's round trip.
 * `secrets` (plain values in the lease) are signed by their SHA-256, so the signature never holds them.
 */
export type SignableSpec = ProtoJobSpec & { secrets?: Record<string, string> };

/** The document that is signed, from the agent's view of the job: what it runs, where, with what. */
export interface SigningView {
  name: string;
  pool: string;
  labels: Record<string, string>;
  timeoutMs: number;
  env: Record<string, string>;
  uses: Array<{ url: string; sha256: string }>;
  /** A built-in step has `builtin` and no `run` (so a signed command cannot become one, nor the reverse). */
  steps: Array<{ name: string; run?: string | string[]; builtin?: string; timeoutMs: number; retries: number }>;
  /** Present only when the job has secrets: name → SHA-256 hex of the value. */
  secrets?: Record<string, string>;
}

/**
 * Every field of the lease's JobSpec, Step and Artifact (as proto-loader names them) except `signature` itself. A field added to the
 * proto must be added here and to `signingView` (a spec compares this list with proto/ and fails otherwise).
 */
export const SIGNED_PROTO_FIELDS = {
  JobSpec: ['name', 'pool', 'labels', 'timeoutMs', 'env', 'uses', 'steps', 'secrets'],
  Step: ['name', 'shell', 'argv', 'builtin', 'timeoutMs', 'retries'],
  Artifact: ['url', 'sha256'],
} as const;

export function signingView(spec: SignableSpec): SigningView {
  const secrets = Object.entries(spec.secrets ?? {});
  return {
    name: spec.name ?? '',
    pool: spec.pool ?? '',
    labels: { ...spec.labels },
    timeoutMs: toNumber(spec.timeoutMs),
    env: { ...spec.env },
    uses: (spec.uses ?? []).map((a) => ({ url: a.url ?? '', sha256: a.sha256 ?? '' })),
    steps: (spec.steps ?? []).map((s) => ({
      name: s.name ?? '',
      // what the agent runs: the oneof's case when decoded, else whichever member is set (toProtoSpec)
      ...(s.run === 'builtin' || (s.run === undefined && s.builtin)
        ? { builtin: s.builtin ?? '' }
        : { run: s.run === 'argv' || (s.run === undefined && s.argv) ? [...(s.argv?.args ?? [])] : (s.shell ?? '') }),
      timeoutMs: toNumber(s.timeoutMs),
      retries: s.retries ?? 0,
    })),
    ...(secrets.length > 0 ? { secrets: Object.fromEntries(secrets.map(([k, v]) => [k, sha256Hex(v)])) } : {}),
  };
}

/** The exact bytes an Ed25519 signature covers: RFC 8785 (JCS) of the envelope with the job's view. */
export function signingPayload(view: SigningView, envelope: { keyId: string; notAfter: string }): Buffer {
  const text = canonicalize({
    purpose: SIGNATURE_PURPOSE,
    alg: SIGNATURE_ALG,
    keyId: envelope.keyId,
    notAfter: envelope.notAfter,
    job: view,
  });
  if (text === undefined) throw new Error('the job cannot be canonicalized');
  return Buffer.from(text, 'utf8');
}

/** A key's id: the first 16 hex digits of the SHA-256 of its public key's SPKI DER. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export interface SigningKey {
  key: KeyObject;
  keyId: string;
}

/** Signs the job as the agent will see it, valid until `notAfter` (an RFC 3339 UTC string). */
export function signJob(spec: SignableSpec, signer: SigningKey, notAfter: string): JobSignature {
  const payload = signingPayload(signingView(spec), { keyId: signer.keyId, notAfter });
  const sig = sign(null, payload, signer.key).toString('base64url');
  return { alg: SIGNATURE_ALG, keyId: signer.keyId, sig, notAfter };
}

/** Why a job's signature is refused (the `cause` label of jr_agent_jobs_refused_total). */
export const SIGNATURE_REFUSALS = ['missing', 'malformed', 'unknown_key', 'expired', 'bad_signature'] as const;
export type SignatureRefusal = (typeof SIGNATURE_REFUSALS)[number];

export type VerifyResult = { ok: true; keyId: string } | { ok: false; cause: SignatureRefusal; message: string };

/** Public keys by key id (parseVerifyKeys). */
export type VerifyKeys = ReadonlyMap<string, KeyObject>;

/**
 * Checks the signature the lease carries against the job the lease carries: well-formed, by one of
 * `keys`, not expired at `nowMs`, and over exactly this job.
 */
export function verifyJobSignature(
  spec: SignableSpec & { signature?: ProtoJobSignature | null },
  keys: VerifyKeys,
  nowMs: number,
): VerifyResult {
  const s = spec.signature;
  if (!s || (!s.sig && !s.keyId && !s.alg)) return refuse('missing', 'the job is not signed');
  const parsed = jobSignatureSchema.safeParse({ alg: s.alg, keyId: s.keyId, sig: s.sig, notAfter: s.notAfter });
  if (!parsed.success)
    return refuse('malformed', parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  const { keyId, notAfter, sig } = parsed.data;
  const key = keys.get(keyId);
  if (!key) return refuse('unknown_key', `signed by key ${keyId}, which is not among this agent's verify keys`);
  const expiresAtMs = Date.parse(notAfter);
  if (!(expiresAtMs > nowMs)) return refuse('expired', `the signature expired at ${notAfter}`);
  let matches: boolean;
  try {
    const payload = signingPayload(signingView(spec), { keyId, notAfter });
    matches = verify(null, payload, key, Buffer.from(sig, 'base64url'));
  } catch (err) {
    // e.g. text JSON cannot carry (a lone surrogate): nobody can have signed this job
    return refuse('malformed', `the job cannot be put in its signed form (${(err as Error).message})`);
  }
  if (!matches) return refuse('bad_signature', `the signature by key ${keyId} does not match the job`);
  return { ok: true, keyId };
}

function refuse(cause: SignatureRefusal, message: string): VerifyResult {
  return { ok: false, cause, message };
}

/** An Ed25519 private key from PEM (PKCS#8, unencrypted); throws an Error saying what is wrong. */
export function parseSigningKey(pem: string): SigningKey {
  const blocks = pemBlocks(pem);
  const block = blocks[0];
  if (blocks.length !== 1 || !block) throw new Error('must hold exactly one PEM block (-----BEGIN PRIVATE KEY-----)');
  if (block.label === 'ENCRYPTED PRIVATE KEY')
    throw new Error('is an encrypted private key; jr needs an unencrypted PKCS#8 key (protect the file instead)');
  if (block.label !== 'PRIVATE KEY')
    throw new Error(`holds a ${block.label} block; jr needs an Ed25519 private key in PKCS#8 (BEGIN PRIVATE KEY)`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.text, format: 'pem' });
  } catch (err) {
    throw new Error(`is not a readable private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`is a ${key.asymmetricKeyType ?? 'unknown'} key; jr signs jobs with Ed25519 keys only`);
  return { key, keyId: keyIdOf(key) };
}

/** Ed25519 public keys (SPKI PEM, one or more blocks) by key id; throws an Error saying what is wrong. */
export function parseVerifyKeys(pem: string): Map<string, KeyObject> {
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) throw new Error('holds no PEM block (-----BEGIN PUBLIC KEY-----)');
  const keys = new Map<string, KeyObject>();
  for (const [i, block] of blocks.entries()) {
    const which = blocks.length > 1 ? `block ${i + 1}: ` : '';
    if (/PRIVATE KEY$/.test(block.label))
      throw new Error(`${which}is a private key; give agents the public key only (jr keys generate writes both)`);
    if (block.label !== 'PUBLIC KEY') throw new Error(`${which}holds a ${block.label} block, not a PUBLIC KEY`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: block.text, format: 'pem' });
    } catch (err) {
      throw new Error(`${which}is not a readable public key (${(err as Error).message})`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new Error(`${which}is a ${key.asymmetricKeyType ?? 'unknown'} key; jobs are signed with Ed25519 keys only`);
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

/** A new Ed25519 key pair as PEM: PKCS#8 private key, SPKI public key, and its key id. */
export function generateSigningKeyPair(): { privatePem: string; publicPem: string; keyId: string } {
  const pair = generateKeyPairSync('ed25519');
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(pair.publicKey),
  };
}

/** True when the text is PEM itself rather than a path to a file holding it. */
export function looksLikePem(value: string): boolean {
  return value.includes('-----BEGIN ');
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----/g;

function pemBlocks(text: string): Array<{ label: string; text: string }> {
  return [...text.matchAll(PEM_RE)].map((m) => ({ label: m[1] ?? '', text: m[0] }));
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function toNumber(value: ProtoJobSpec['timeoutMs']): number {
  if (value === undefined || value === null) return 0;
  return typeof value === 'number' ? value : Number(String(value));
}
