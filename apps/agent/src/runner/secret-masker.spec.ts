import { randomBytes } from 'node:crypto';
import { alignedBase64, buildMaskPatterns, maskLabel } from './mask-patterns';
import { PatternIndex } from './pattern-index';
import { SecretMasker } from './secret-masker';

/** Deterministic PRNG (mulberry32): property cases that fail are reproducible from the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'abcXYZ0189 _-+/=%"\\\n\tü€😀:.@';
function randomText(next: () => number, min: number, max: number): string {
  const n = min + Math.floor(next() * (max - min + 1));
  return Array.from(Array(n), () => [...ALPHABET][Math.floor(next() * [...ALPHABET].length)]).join('');
}

/** Feeds `input` in pieces cut at the given byte offsets (mid-character too); returns every emitted piece. */
function stream(secrets: Record<string, string>, input: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  const m = new SecretMasker(buildMaskPatterns(secrets), (d) => out.push(d));
  let from = 0;
  for (const at of [...cuts].sort((a, b) => a - b)) {
    m.write(input.subarray(from, at));
    from = at;
  }
  m.write(input.subarray(from));
  m.end();
  return out;
}

const joined = (parts: Buffer[]): string => Buffer.concat(parts).toString('utf8');

/** Every form a step may print a value in. */
function forms(value: string): Record<string, string> {
  return {
    exact: value,
    base64: Buffer.from(value).toString('base64'),
    base64url: Buffer.from(value).toString('base64url'),
    url: encodeURIComponent(value),
    json: JSON.stringify(value).slice(1, -1),
  };
}

describe('SecretMasker', () => {
  const secret = 'hunter2-Sup3r/s3cret+"quoted" ü€';

  it.each(Object.entries(forms(secret)))('masks the %s form, whole or split at every byte', (_form, text) => {
    const input = Buffer.from(`before ${text} after\n`);
    for (let cut = 0; cut <= input.length; cut++) {
      const out = joined(stream({ TOKEN: secret }, input, [cut]));
      expect(out).toBe(`before ${maskLabel('TOKEN')} after\n`);
    }
  });

  it('masks the value inside a longer base64 stream at each of the three alignments', () => {
    for (const prefix of ['', 'u', 'us', 'user:', 'user:x']) {
      for (const suffix of ['', '!', '!!', '@host']) {
        const b64 = Buffer.from(`${prefix}${secret}${suffix}`).toString('base64');
        for (const enc of [b64, b64.replace(/\+/g, '-').replace(/\//g, '_')]) {
          const out = joined(stream({ TOKEN: secret }, Buffer.from(`${enc}\n`), [Math.floor(enc.length / 2)]));
          expect(out).toContain(maskLabel('TOKEN'));
          for (let align = 0; align < 3; align++)
            expect(out).not.toContain(alignedBase64(Buffer.from(secret), align).slice(0, 8));
        }
      }
    }
  });

  it('masks each line of a multi-line value and the JSON form with \\u escapes', () => {
    const pem = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n-----END KEY-----';
    const input = `${pem}\n${JSON.stringify({ k: 'päss-wörd-1' }).replace(/[ä-ö]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)}\n`;
    const out = joined(stream({ PEM: pem, PW: 'päss-wörd-1' }, Buffer.from(input), [7, 40, 80]));
    expect(out).not.toContain('MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX');
    expect(out).not.toContain('p\\u00e4ss');
    expect(out).toContain(maskLabel('PW'));
  });

  it('holds back only a tail that begins a secret: ordinary output goes on in the same write', () => {
    const out: Buffer[] = [];
    const m = new SecretMasker(buildMaskPatterns({ TOKEN: secret }), (d) => out.push(d));
    m.write(Buffer.from('progress 10%\n'));
    expect(joined(out)).toBe('progress 10%\n');
    m.write(Buffer.from('token: hunter'));
    expect(joined(out)).toBe('progress 10%\ntoken: ');
    expect(m.heldBytes).toBe('hunter'.length);
    m.write(Buffer.from('s are everywhere\n'));
    expect(joined(out)).toBe('progress 10%\ntoken: hunters are everywhere\n');
    expect(m.heldBytes).toBe(0);
  });

  it('is a pass-through without secrets', () => {
    const out: Buffer[] = [];
    const m = new SecretMasker([], (d) => out.push(d));
    const data = Buffer.from([0xe2, 0x82]);
    m.write(data);
    expect(out).toEqual([data]);
  });

  it('property: streamed output equals the whole text masked at once, never shows a form, never splits UTF-8', () => {
    const next = rng(20261202);
    for (let run = 0; run < 400; run++) {
      const value = randomText(next, 6, 40);
      const other = randomText(next, 6, 12);
      const secrets = { A: value, B: other };
      const chosen = Object.values(forms(value))[Math.floor(next() * 5)] ?? value;
      const text = `${randomText(next, 0, 30)}${chosen}${randomText(next, 0, 30)}${other}${randomText(next, 0, 5)}`;
      const input = Buffer.from(text, 'utf8');
      const cuts = Array.from(Array(Math.floor(next() * 6)), () => Math.floor(next() * (input.length + 1)));
      const parts = stream(secrets, input, cuts);
      const whole = new PatternIndex(buildMaskPatterns(secrets)).maskUpTo(input, input.length).out.toString('utf8');
      const seed = `run ${run}: ${JSON.stringify({ value, other, text, cuts })}`;
      expect({ seed, out: joined(parts) }).toEqual({ seed, out: whole });
      expect({ seed, leaked: joined(parts).includes(value) }).toEqual({ seed, leaked: false });
      expect({ seed, leaked: joined(parts).includes(other) }).toEqual({ seed, leaked: false });
      for (const p of parts) expect(Buffer.from(p.toString('utf8'), 'utf8').equals(p)).toBe(true);
    }
  });
});

describe('SecretMasker with many long secrets', () => {
  it('masks 64 PEM-sized secrets (4 KiB, 64 lines each) in 1 MiB of output read 64 KiB at a time', () => {
    const secrets = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [
        `S${i}`,
        Array.from(Array(64), () => randomBytes(47).toString('base64')).join('\n'),
      ]),
    );
    const out: Buffer[] = [];
    const m = new SecretMasker(buildMaskPatterns(secrets), (d) => out.push(d));
    const read = Buffer.from('ordinary output line without secrets\n'.repeat(1772));
    for (let i = 0; i < 16; i++) m.write(i === 8 ? Buffer.concat([read, Buffer.from(`${secrets.S7}\n`)]) : read);
    m.end();
    const text = Buffer.concat(out);
    expect(text.length).toBe(read.length * 16 + maskLabel('S7').length + 1);
    expect(text.includes(Buffer.from(maskLabel('S7')))).toBe(true);
  });
});
