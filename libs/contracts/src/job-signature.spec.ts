import { createHash, generateKeyPairSync } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Assignment__Output } from './generated/jobrunner/v1/Assignment';
import {
  generateSigningKeyPair,
  keyIdOf,
  parseSigningKey,
  parseVerifyKeys,
  SIGNED_PROTO_FIELDS,
  signingPayload,
  signingView,
  signJob,
  verifyJobSignature,
  type SignableSpec,
} from './job-signature';
import { parseJobSpec, toProtoSpec, type NormalizedJob } from './job-spec';
import { AGENT_PROTO_FILE, PROTO_LOADER_OPTIONS, PROTO_ROOT } from './proto';

/* eslint-disable @typescript-eslint/no-require-imports */
const loader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
/* eslint-enable @typescript-eslint/no-require-imports */
const definition = loader.loadSync(AGENT_PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });

const NOW = Date.parse('2030-01-01T00:00:00.000Z');
const LATER = '2030-01-02T00:00:00.000Z';

const pair = generateSigningKeyPair();
const signer = parseSigningKey(pair.privatePem);
const keys = parseVerifyKeys(pair.publicPem);

function job(doc: object): NormalizedJob {
  const parsed = parseJobSpec(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.job;
}

const DOC = {
  name: 'deploy-web',
  pool: 'web',
  labels: { os: 'linux', arch: 'x64' },
  timeout: '10m',
  env: { STAGE: 'prod', GREETING: 'grüß dich 👋' },
  uses: [{ url: 'https://example.com/tool.tgz', sha256: 'a'.repeat(64) }],
  steps: [
    { name: 'build', run: 'make build', timeout: '5m', retries: 1 },
    { run: ['./deploy', '--stage', 'prod', ''] },
  ],
};

/** The job as the agent gets it: through the API's toProtoSpec, the wire, and the agent's decoding. */
function overTheWire(spec: SignableSpec): NonNullable<Assignment__Output['spec']> {
  const lease = (definition['jobrunner.v1.AgentService'] as unknown as { Lease: LoaderMethod }).Lease;
  const bytes = lease.responseSerialize({
    assignments: [{ jobId: 'j', attempt: 1, leaseToken: 't', leaseExpiresAtMs: 1, spec }],
  });
  const decoded = lease.responseDeserialize(bytes) as { assignments: Assignment__Output[] };
  const out = decoded.assignments[0]?.spec;
  if (!out) throw new Error('no spec decoded');
  return out;
}
type LoaderMethod = { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown };

function signed(doc: object, notAfter = LATER): NormalizedJob {
  const unsigned = job(doc);
  return { ...unsigned, signature: signJob(toProtoSpec(unsigned), signer, notAfter) };
}

describe('signing view and payload', () => {
  it('is RFC 8785: sorted keys, shortest numbers, minimal escapes (the RFC example)', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('is the same whatever the key order of the document, and pins the exact bytes', () => {
    const reordered = {
      steps: [{ run: 'true' }],
      env: { B: '2', A: '1' },
      labels: { z: '1', a: '2' },
    };
    const a = signingPayload(signingView(toProtoSpec(job(reordered))), { keyId: 'k', notAfter: LATER });
    const b = signingPayload(
      signingView(toProtoSpec(job({ labels: { a: '2', z: '1' }, env: { A: '1', B: '2' }, steps: [{ run: 'true' }] }))),
      { keyId: 'k', notAfter: LATER },
    );
    expect(a.equals(b)).toBe(true);
    expect(a.toString('utf8')).toBe(
      '{"alg":"ed25519","job":{"env":{"A":"1","B":"2"},"labels":{"a":"2","z":"1"},"name":"true","pool":"default",' +
        '"steps":[{"name":"step-1","retries":0,"run":"true","timeoutMs":0}],"timeoutMs":0,"uses":[]},' +
        `"keyId":"k","notAfter":"${LATER}","purpose":"jobrunner.job.v1"}`,
    );
  });

  it('keeps unicode as UTF-8 and numbers given as strings (64-bit wire values) as numbers', () => {
    const spec = toProtoSpec(job(DOC));
    const text = signingPayload(signingView(spec), { keyId: 'k', notAfter: LATER }).toString('utf8');
    expect(text).toContain('"GREETING":"grüß dich 👋"');
    const asStrings = { ...spec, timeoutMs: String(spec.timeoutMs) };
    expect(signingView(asStrings)).toEqual(signingView(spec));
    expect(signingView(spec).timeoutMs).toBe(600_000);
  });

  it('tells a shell string from a one-word argv', () => {
    const shell = signingView(toProtoSpec(job({ steps: [{ run: 'ls' }] })));
    const argv = signingView(toProtoSpec(job({ steps: [{ run: ['ls'] }] })));
    expect(shell.steps[0]?.run).toBe('ls');
    expect(argv.steps[0]?.run).toEqual(['ls']);
  });

  it('tells a built-in step from any command, also after the protocol round trip', () => {
    const spec = toProtoSpec(job({ steps: [{ builtin: 'noop' }] }));
    expect(signingView(spec).steps[0]).toEqual({ name: 'step-1', builtin: 'noop', timeoutMs: 0, retries: 0 });
    expect(signingView(overTheWire(spec))).toEqual(signingView(spec));
    const shell = signingView(toProtoSpec(job({ steps: [{ run: 'noop' }] })));
    expect(shell.steps[0]).not.toHaveProperty('builtin');
  });

  it('survives the protocol round trip: the agent sees what the submitter signed', () => {
    const spec = toProtoSpec(job(DOC));
    expect(signingView(overTheWire(spec))).toEqual(signingView(spec));
  });

  it('covers every field of the lease job (the proto) but the signature itself', () => {
    const fields = (type: string): string[] =>
      (definition[`jobrunner.v1.${type}`] as { type: { field: Array<{ name: string }> } }).type.field.map(
        (f) => f.name,
      );
    const signedJobFields: readonly string[] = SIGNED_PROTO_FIELDS.JobSpec;
    expect(fields('JobSpec').filter((f) => f !== 'signature' && !signedJobFields.includes(f))).toEqual([]);
    expect(fields('Step')).toEqual([...SIGNED_PROTO_FIELDS.Step]);
    expect(fields('Artifact')).toEqual([...SIGNED_PROTO_FIELDS.Artifact]);
  });

  it('signs secrets by their SHA-256 only, and only when there are some', () => {
    const spec: SignableSpec = { ...toProtoSpec(job(DOC)), secrets: { DEPLOY_TOKEN: 's3cr3t-value' } };
    const view = signingView(spec);
    expect(view.secrets).toEqual({ DEPLOY_TOKEN: createHash('sha256').update('s3cr3t-value').digest('hex') });
    expect(signingPayload(view, { keyId: 'k', notAfter: LATER }).toString()).not.toContain('s3cr3t-value');
    expect('secrets' in signingView({ ...spec, secrets: {} })).toBe(false);
    const sig = signJob(spec, signer, LATER);
    expect(verifyJobSignature({ ...spec, signature: sig }, keys, NOW)).toEqual({ ok: true, keyId: signer.keyId });
    const other = { ...spec, secrets: { DEPLOY_TOKEN: 's3cr3t-valuf' }, signature: sig };
    expect(verifyJobSignature(other, keys, NOW)).toMatchObject({ ok: false, cause: 'bad_signature' });
  });
});

describe('sign and verify', () => {
  it('verifies a signed job after the protocol round trip', () => {
    const spec = toProtoSpec(signed(DOC));
    expect(verifyJobSignature(overTheWire(spec), keys, NOW)).toEqual({ ok: true, keyId: signer.keyId });
  });

  it.each([
    [
      'a run command',
      (s: NormalizedJob) => ({ ...s, steps: [{ ...s.steps[0]!, run: 'make pwn' }, ...s.steps.slice(1)] }),
    ],
    [
      'an argv word',
      (s: NormalizedJob) => ({
        ...s,
        steps: [s.steps[0]!, { ...s.steps[1]!, run: ['./deploy', '--stage', 'dev', ''] }],
      }),
    ],
    [
      'a step added',
      (s: NormalizedJob) => ({ ...s, steps: [...s.steps, { name: 'x', run: 'id', timeoutMs: 0, retries: 0 }] }),
    ],
    ['the step order', (s: NormalizedJob) => ({ ...s, steps: [...s.steps].reverse() })],
    [
      'a step timeout',
      (s: NormalizedJob) => ({ ...s, steps: [{ ...s.steps[0]!, timeoutMs: 1 }, ...s.steps.slice(1)] }),
    ],
    [
      'a step retry count',
      (s: NormalizedJob) => ({ ...s, steps: [{ ...s.steps[0]!, retries: 9 }, ...s.steps.slice(1)] }),
    ],
    ['the job timeout', (s: NormalizedJob) => ({ ...s, timeoutMs: 0 })],
    ['an env value', (s: NormalizedJob) => ({ ...s, env: { ...s.env, STAGE: 'dev' } })],
    ['an env variable added', (s: NormalizedJob) => ({ ...s, env: { ...s.env, LD_PRELOAD: '/tmp/x.so' } })],
    [
      'an artifact url',
      (s: NormalizedJob) => ({ ...s, uses: [{ ...s.uses[0]!, url: 'https://evil.example/tool.tgz' }] }),
    ],
    ['an artifact sha256', (s: NormalizedJob) => ({ ...s, uses: [{ ...s.uses[0]!, sha256: 'b'.repeat(64) }] })],
    ['the pool', (s: NormalizedJob) => ({ ...s, pool: 'db' })],
    ['a label', (s: NormalizedJob) => ({ ...s, labels: { ...s.labels, os: 'windows' } })],
    ['the name', (s: NormalizedJob) => ({ ...s, name: 'other' })],
    [
      'the notAfter',
      (s: NormalizedJob) => ({ ...s, signature: { ...s.signature!, notAfter: '2031-01-01T00:00:00.000Z' } }),
    ],
  ])('refuses the job when %s changed after signing', (_what, change) => {
    const tampered = toProtoSpec(change(signed(DOC)));
    expect(verifyJobSignature(overTheWire(tampered), keys, NOW)).toMatchObject({ ok: false, cause: 'bad_signature' });
  });

  it('refuses a missing, malformed, unknown-key or expired signature', () => {
    const good = signed(DOC);
    const unsigned = { ...good, signature: undefined };
    expect(verifyJobSignature(overTheWire(toProtoSpec(unsigned)), keys, NOW)).toMatchObject({ cause: 'missing' });
    const badSig = { ...good, signature: { ...good.signature!, sig: 'A'.repeat(10) } };
    expect(verifyJobSignature(toProtoSpec(badSig), keys, NOW)).toMatchObject({ cause: 'malformed' });
    const badAlg = { ...good, signature: { ...good.signature!, alg: 'rsa' as 'ed25519' } };
    expect(verifyJobSignature(toProtoSpec(badAlg), keys, NOW)).toMatchObject({ cause: 'malformed' });
    const stranger = parseSigningKey(generateSigningKeyPair().privatePem);
    const byStranger = { ...good, signature: signJob(toProtoSpec({ ...good, signature: undefined }), stranger, LATER) };
    expect(verifyJobSignature(toProtoSpec(byStranger), keys, NOW)).toMatchObject({ cause: 'unknown_key' });
    // a stranger's signature relabelled with our key id: the key is known, the signature does not match
    const relabelled = { ...byStranger, signature: { ...byStranger.signature, keyId: signer.keyId } };
    expect(verifyJobSignature(toProtoSpec(relabelled), keys, NOW)).toMatchObject({ cause: 'bad_signature' });
    expect(verifyJobSignature(toProtoSpec(good), keys, Date.parse(LATER))).toMatchObject({ cause: 'expired' });
    const lone = { ...good, env: { ...good.env, STAGE: 'prod\ud800' } };
    expect(verifyJobSignature(toProtoSpec(lone), keys, NOW)).toMatchObject({ ok: false, cause: 'malformed' });
    expect(verifyJobSignature(toProtoSpec(good), keys, Date.parse(LATER) - 1)).toMatchObject({ ok: true });
  });

  it('takes the signature in the job document and keeps it through parsing, refusing a bad one by path', () => {
    const good = signed(DOC);
    expect(job({ ...DOC, signature: good.signature }).signature).toEqual(good.signature);
    const parsed = parseJobSpec({ ...DOC, signature: { ...good.signature, sig: 'x', extra: 1 } });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues.map((i) => i.path).sort()).toEqual(['signature', 'signature.sig']);
  });
});

describe('keys', () => {
  it('names a key by its public half, the same from the private key', () => {
    expect(signer.keyId).toMatch(/^[a-f0-9]{16}$/);
    expect(signer.keyId).toBe(pair.keyId);
    expect([...keys.keys()]).toEqual([pair.keyId]);
    expect(keyIdOf(signer.key)).toBe(pair.keyId);
  });

  it('reads several public keys from one text, and refuses private or foreign keys with a reason', () => {
    const second = generateSigningKeyPair();
    const both = parseVerifyKeys(`${pair.publicPem}\n# rotated in 2030\n${second.publicPem}`);
    expect([...both.keys()].sort()).toEqual([pair.keyId, second.keyId].sort());
    expect(() => parseVerifyKeys(pair.privatePem)).toThrow(/private key; give agents the public key/);
    expect(() => parseVerifyKeys('ssh-ed25519 AAAA')).toThrow(/no PEM block/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => parseVerifyKeys(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toThrow(
      /rsa key; jobs are signed with Ed25519/,
    );
    expect(() => parseSigningKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(
      /rsa key/,
    );
    expect(() => parseSigningKey(pair.publicPem)).toThrow(/PUBLIC KEY block/);
    const encrypted = generateKeyPairSync('ed25519').privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pw',
    });
    expect(() => parseSigningKey(encrypted.toString())).toThrow(/encrypted private key/);
    expect(() =>
      parseSigningKey('-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n'),
    ).toThrow(/not a readable private key/);
  });
});
