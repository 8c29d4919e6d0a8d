import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Job ids: `j_` + 10 chars of time (ms, base32, sortable) + 16 random chars. Never a plain integer
 * and never containing ':' (BullMQ's constraints on custom job ids).
 */
export function newJobId(now: number = Date.now()): string {
  return `j_${encodeTime(now)}${randomChars(16)}`;
}

export function newAgentId(): string {
  return `a_${randomChars(20)}`;
}

export function newTokenId(): string {
  return `t_${randomChars(20)}`;
}

/** Operator enroll tokens (`jr tokens create-enroll`): the id names the token; the secret is shown once. */
export function newEnrollTokenId(): string {
  return `et_${randomChars(20)}`;
}

/** Schedules: `s_` + 20 random characters. */
export function newScheduleId(): string {
  return `s_${randomChars(20)}`;
}

export const SCHEDULE_ID_RE = /^s_[0-9a-z]{20}$/;
export const ENROLL_TOKEN_ID_RE = /^et_[0-9a-z]{20}$/;
export const JOB_ID_RE = /^j_[0-9a-z]{26}$/;
export const AGENT_ID_RE = /^a_[0-9a-z]{20}$/;

function encodeTime(ms: number): string {
  let out = '';
  let value = ms;
  for (let i = 0; i < 10; i++) {
    out = (ALPHABET[value % 32] as string) + out;
    value = Math.floor(value / 32);
  }
  return out;
}

function randomChars(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 32] as string;
  return out;
}
