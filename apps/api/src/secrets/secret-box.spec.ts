import { randomBytes } from 'node:crypto';
import { parseSecretKeys, SecretBox, SecretOpenError, type SecretKey } from './secret-box';

const key = (id: string): SecretKey => ({ id, key: randomBytes(32) });
const JOB = 'j_01m8t4s6peq1bqbq2p0j7ytmfk';

describe('SecretBox', () => {
  it('seals with the first key and opens with any; the ciphertext never holds the value', () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const old = new SecretBox([k1]).seal(JOB, 'TOKEN', 'hunter2-hunter2');
    const rotated = new SecretBox([k2, k1]);
    const fresh = rotated.seal(JOB, 'TOKEN', 'hunter2-hunter2');
    expect(old).toMatch(/^jrs1\.k1\./);
    expect(fresh).toMatch(/^jrs1\.k2\./);
    expect(fresh).not.toContain('hunter2');
    expect(rotated.open(JOB, 'TOKEN', old)).toBe('hunter2-hunter2');
    expect(rotated.open(JOB, 'TOKEN', fresh)).toBe('hunter2-hunter2');
    // random IVs: the same value sealed twice differs
    expect(rotated.seal(JOB, 'TOKEN', 'hunter2-hunter2')).not.toBe(fresh);
  });

  it('refuses a ciphertext moved to another job or name, altered anywhere, or under an unknown key', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.seal(JOB, 'TOKEN', 'päss-wörd-123');
    const why = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (err) {
        return err instanceof SecretOpenError ? err.why : 'other';
      }
    };
    expect(why(() => box.open('j_01m8t4s6peq1bqbq2p0j7ytmfl', 'TOKEN', sealed))).toBe('tampered');
    expect(why(() => box.open(JOB, 'OTHER', sealed))).toBe('tampered');
    for (let i = 'jrs1.k1.'.length; i < sealed.length; i++) {
      if (sealed[i] === '.') continue;
      const altered = `${sealed.slice(0, i)}${sealed[i] === 'A' ? 'B' : 'A'}${sealed.slice(i + 1)}`;
      expect({ i, why: why(() => box.open(JOB, 'TOKEN', altered)) }).toEqual({
        i,
        why: expect.stringMatching(/^(tampered|malformed)$/),
      });
    }
    expect(why(() => new SecretBox([key('k2')]).open(JOB, 'TOKEN', sealed))).toBe('unknown_key');
    expect(why(() => box.open(JOB, 'TOKEN', 42))).toBe('malformed');
    expect(why(() => box.open(JOB, 'TOKEN', sealed.slice(0, -30)))).toMatch(/tampered|malformed/);
  });

  it('MACs with a derived key: stable for one key, different under another', () => {
    const k1 = key('k1');
    expect(new SecretBox([k1]).mac('x')).toBe(new SecretBox([k1]).mac('x'));
    expect(new SecretBox([k1]).mac('x')).not.toBe(new SecretBox([key('k1')]).mac('x'));
  });
});

describe('parseSecretKeys', () => {
  const b64 = randomBytes(32).toString('base64');
  it('takes id:base64 lists, standard or URL-safe', () => {
    const r = parseSecretKeys(`k2:${b64}, k1:${randomBytes(32).toString('base64url')}`);
    expect(r.ok && r.keys.map((k) => k.id)).toEqual(['k2', 'k1']);
  });

  it.each([
    [b64, /id:base64/],
    [`k1:${randomBytes(16).toString('base64')}`, /32 bytes, got 16/],
    [`k1:${b64},k1:${b64}`, /twice/],
    ['k1:not base64!', /not base64/],
    [`bad.id:${b64}`, /id:base64/],
  ])('refuses %#, never repeating the key', (text, message) => {
    const r = parseSecretKeys(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toMatch(message);
      expect(r.message).not.toContain(b64.slice(0, 8));
    }
  });
});
