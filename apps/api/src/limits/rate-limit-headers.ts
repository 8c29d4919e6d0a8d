import type { Verdict } from './rate-limits.service';

/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11), as Structured Field lists
 * with one item per limit that applied to the request:
 *   RateLimit-Policy: "token";q=10000;w=10, "address";q=20000;w=10   (quota q per window w seconds)
 *   RateLimit: "token";r=9876;t=7, "address";r=19990;t=7             (r remaining, t seconds to reset)
 * Sent on every answer, successes included, so clients can slow down before they are refused.
 */
export function rateLimitHeaders(verdicts: readonly Verdict[]): Record<string, string> {
  if (verdicts.length === 0) return {};
  return {
    'RateLimit-Policy': verdicts.map((v) => `"${v.name}";q=${v.rate.points};w=${v.rate.windowMs / 1_000}`).join(', '),
    RateLimit: verdicts.map((v) => `"${v.name}";r=${v.remaining};t=${Math.ceil(v.resetMs / 1_000)}`).join(', '),
  };
}

/** Seconds a refused client should wait: the longest reset among the limits that refused it. */
export function retryAfterMs(verdicts: readonly Verdict[]): number {
  return Math.max(1_000, ...verdicts.filter((v) => !v.allowed).map((v) => v.resetMs));
}
