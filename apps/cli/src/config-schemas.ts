import { z } from 'zod';

/** Values the CLI takes from flags, variables and the config file alike. */
export const blankToUndefined = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const TOKEN_RE = /^[\x21-\x7e]{1,4096}$/;
export const tokenSchema = z.preprocess(
  blankToUndefined,
  z.string().regex(TOKEN_RE, 'must be printable ASCII without spaces (at most 4096 characters)').optional(),
);

export const apiUrlSchema = z.url({
  protocol: /^https?$/,
  error: 'must be an http(s) URL, e.g. https://127.0.0.1:8080',
});
