import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  generateSigningKeyPair,
  parseJobSpec,
  parseSigningKey,
  parseVerifyKeys,
  toProtoSpec,
  verifyJobSignature,
} from '@jr/contracts';
import { documentFromCommand, documentFromFile } from './job-document';
import { loadSigningKey, signDocument } from './job-signing';
import type { Io, OutStream } from './output';
import { run } from './program';

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

function io(
  env: Record<string, string> = {},
): Io & { out: ReturnType<typeof capture>; err: ReturnType<typeof capture> } {
  const out = capture();
  const err = capture();
  return { stdout: out, stderr: err, env: { JR_API_URL: 'http://127.0.0.1:9', ...env }, out, err };
}

const pair = generateSigningKeyPair();
const key = parseSigningKey(pair.privatePem);
const verifyKeys = parseVerifyKeys(pair.publicPem);
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'jr-cli-signing-'));
  writeFileSync(path.join(dir, 'job.key'), pair.privatePem, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the agent checks: the document as the API parses and stores it, put in the lease. */
function verifyAsTheAgentWould(
  doc: Record<string, unknown>,
  nowMs = Date.now(),
): ReturnType<typeof verifyJobSignature> {
  const parsed = parseJobSpec(JSON.parse(JSON.stringify(doc)));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return verifyJobSignature(toProtoSpec(parsed.job), verifyKeys, nowMs);
}

describe('signDocument', () => {
  const later = Date.now() + 3_600_000;

  it('signs `jr submit -- CMD` with its flags as the API will normalize them', () => {
    const doc = documentFromCommand(['./deploy', '--stage', 'prod'], {
      pool: 'web',
      labels: [['os', 'linux']],
      env: [['STAGE', 'prod']],
      timeout: '5m',
    });
    const signed = signDocument(doc, key, later);
    expect(signed.signature).toMatchObject({
      alg: 'ed25519',
      keyId: key.keyId,
      notAfter: new Date(later).toISOString(),
    });
    expect(verifyAsTheAgentWould(signed)).toEqual({ ok: true, keyId: key.keyId });
    // the flags are inside the signature: changing one afterwards breaks it
    expect(verifyAsTheAgentWould({ ...signed, pool: 'db' })).toMatchObject({ cause: 'bad_signature' });
  });

  it('signs a job file with durations in any form and replaces a signature the file had', () => {
    const file = {
      steps: [
        { run: 'make', timeout: 90 },
        { run: ['ls', '-l'], timeout: '2m' },
      ],
      timeout: '1h',
    };
    const first = signDocument(documentFromFile(file, {}), key, later);
    const again = signDocument(
      documentFromFile({ ...file, signature: first.signature }, { env: [['A', 'b']] }),
      key,
      later,
    );
    expect(verifyAsTheAgentWould(again)).toEqual({ ok: true, keyId: key.keyId });
    expect(again.signature).not.toEqual(first.signature);
  });

  it('leaves an invalid document alone for validation to report', () => {
    const doc = { steps: [] };
    expect(signDocument(doc, key, later)).toBe(doc);
  });
});

describe('loadSigningKey', () => {
  it('reads a key file (relative to the working directory) or the PEM itself; unset: no signing', () => {
    expect(loadSigningKey(io({ JR_JOB_SIGNING_KEY: 'job.key' }), dir)?.keyId).toBe(key.keyId);
    expect(loadSigningKey(io({ JR_JOB_SIGNING_KEY: pair.privatePem }), dir)?.keyId).toBe(key.keyId);
    expect(loadSigningKey(io(), dir)).toBeUndefined();
  });

  it('warns when the key file is readable by others', () => {
    const loose = path.join(dir, 'loose.key');
    writeFileSync(loose, pair.privatePem);
    chmodSync(loose, 0o644);
    const x = io({ JR_JOB_SIGNING_KEY: loose });
    loadSigningKey(x, dir);
    expect(x.err.text).toContain('readable by others; chmod 600 it');
  });

  it.each([
    ['missing.key', /cannot read .*missing\.key \(ENOENT\)/],
    ['.', /is not a key file/],
  ])('refuses %j with a clear usage error', (value, message) => {
    expect(() => loadSigningKey(io({ JR_JOB_SIGNING_KEY: value }), dir)).toThrow(message);
  });
});

describe('jr submit and jr keys', () => {
  it('exits 64 with one line for a bad signing key, before reaching the API', async () => {
    writeFileSync(path.join(dir, 'pub-as-key'), pair.publicPem, { mode: 0o600 });
    const x = io({ JR_JOB_SIGNING_KEY: path.join(dir, 'pub-as-key') });
    expect(await run(['submit', '--', 'true'], x)).toBe(64);
    expect(x.err.text).toMatch(/^jr: JR_JOB_SIGNING_KEY: .*pub-as-key holds a PUBLIC KEY block/);
    const y = io();
    expect(await run(['submit', '--sign-ttl', '1h', '--', 'true'], y)).toBe(64);
    expect(y.err.text).toContain('--sign-ttl needs JR_JOB_SIGNING_KEY');
    expect(await run(['submit', '--sign-ttl', '31d', '--', 'true'], io())).toBe(64);
    // --no-sign does not even read the key: the submit goes on to the (unreachable) API
    const z = io({ JR_JOB_SIGNING_KEY: path.join(dir, 'pub-as-key'), JR_REQUEST_TIMEOUT: '2s' });
    expect(await run(['submit', '--no-sign', '--', 'true'], z)).toBe(69);
    expect(z.err.text).not.toContain('JR_JOB_SIGNING_KEY');
  });

  it('generates a key pair that never overwrites, with key ids that match', async () => {
    const out = path.join(dir, 'keys');
    const x = io();
    expect(await run(['keys', 'generate', '--out', out, '--json'], x)).toBe(0);
    const made = JSON.parse(x.out.text) as { keyId: string; privateKeyFile: string; publicKeyFile: string };
    expect(statSync(made.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(parseSigningKey(readFileSync(made.privateKeyFile, 'utf8')).keyId).toBe(made.keyId);
    for (const file of [made.privateKeyFile, made.publicKeyFile]) {
      const idOut = io();
      expect(await run(['keys', 'id', file], idOut)).toBe(0);
      expect(idOut.out.text).toBe(`${made.keyId}\n`);
    }
    const again = io();
    expect(await run(['keys', 'generate', '--out', out], again)).toBe(64);
    expect(again.err.text).toContain('exists; not overwriting a key');
    expect(parseSigningKey(readFileSync(made.privateKeyFile, 'utf8')).keyId).toBe(made.keyId);
  });
});
