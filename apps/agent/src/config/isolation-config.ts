import { isIP } from 'node:net';
import { z } from 'zod';

/** A job user as configured: a name looked up in the user database, or a numeric uid (and gid). */
export type JobUserSpec = { kind: 'name'; name: string } | { kind: 'id'; uid: number; gid: number | undefined };

/** An address range artifact downloads may reach although it is loopback, private or link-local. */
export interface AllowedCidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

const USER_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const ID_RE = /^(\d{1,10})(?::(\d{1,10}))?$/;
/** (uid_t)-1 means "unchanged" to setuid(2): never a user. */
const MAX_ID = 2 ** 32 - 2;

function blankToUndefined(v: unknown): unknown {
  return v === '' ? undefined : v;
}

function parseUserSpec(raw: string): JobUserSpec | string {
  const s = raw.trim();
  const id = ID_RE.exec(s);
  if (id) {
    const uid = Number(id[1]);
    const gid = id[2] === undefined ? undefined : Number(id[2]);
    if (uid > MAX_ID || (gid !== undefined && gid > MAX_ID)) return `ids must be at most ${MAX_ID} (got ${s})`;
    return { kind: 'id', uid, gid };
  }
  if (USER_NAME_RE.test(s)) return { kind: 'name', name: s };
  return `must be a user name or uid[:gid] (got ${JSON.stringify(s.slice(0, 64))})`;
}

const userKey = (u: JobUserSpec): string => (u.kind === 'name' ? u.name : `#${u.uid}`);

/** JR_JOB_USER (one) or JR_JOB_USERS (a comma-separated list, one per slot). */
export const jobUsersSchema = z.preprocess(blankToUndefined, z.string().max(8192).optional()).transform((raw, ctx) => {
  if (raw === undefined) return [];
  const out: JobUserSpec[] = [];
  const seen = new Set<string>();
  for (const part of raw.split(',')) {
    const spec = parseUserSpec(part);
    if (typeof spec === 'string') {
      ctx.addIssue({ code: 'custom', message: spec });
      return z.NEVER;
    }
    if (seen.has(userKey(spec))) {
      ctx.addIssue({ code: 'custom', message: `lists ${part.trim()} twice: each slot needs its own user` });
      return z.NEVER;
    }
    seen.add(userKey(spec));
    out.push(spec);
  }
  return out;
});

export const flagSchema = z
  .preprocess(blankToUndefined, z.enum(['0', '1'], { error: 'must be 1 or 0' }).optional())
  .transform((v) => v === '1');

export const pathSchema = z.preprocess(
  blankToUndefined,
  z
    .string()
    .max(4096)
    .regex(/^[^\0]+$/, 'must not contain NUL')
    .optional(),
);

function parseCidr(raw: string): AllowedCidr | string {
  const s = raw.trim();
  const slash = s.lastIndexOf('/');
  const address = (slash < 0 ? s : s.slice(0, slash)).replace(/^\[(.*)\]$/, '$1');
  const family = isIP(address);
  if (family === 0)
    return `must be addresses or CIDR ranges like 10.1.2.0/24 or fd00::/8 (got ${JSON.stringify(s.slice(0, 64))})`;
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : s.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max))
    return `prefix length must be 0 to ${max} (got ${JSON.stringify(s.slice(0, 64))})`;
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** JR_ARTIFACT_ALLOW_CIDRS: comma-separated addresses or ranges. */
export const cidrsSchema = z.preprocess(blankToUndefined, z.string().max(8192).optional()).transform((raw, ctx) => {
  const out: AllowedCidr[] = [];
  for (const part of (raw ?? '').split(',').filter((p) => p.trim() !== '')) {
    const cidr = parseCidr(part);
    if (typeof cidr === 'string') {
      ctx.addIssue({ code: 'custom', message: cidr });
      return z.NEVER;
    }
    out.push(cidr);
  }
  return out;
});
