/**
 * pino `redact` for both processes: credentials, tokens and job secrets never reach a log line, even
 * when a whole object (a request's headers, an error's details, a config) is logged by mistake. Paths
 * cover the field at the top level and one or two levels down (pino matches `*` one level at a time).
 */
const SENSITIVE_FIELDS = [
  'authorization',
  'cookie',
  'token',
  'adminToken',
  'enrollToken',
  'leaseToken',
  'credential',
  'password',
  'secret',
  'secrets',
  'secretsKeys',
  'privateKey',
];

export const LOG_REDACT_PATHS: string[] = SENSITIVE_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export const LOG_REDACT = { paths: LOG_REDACT_PATHS, censor: '[redacted]' } as const;
