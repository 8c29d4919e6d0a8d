/** A certificate or key the API cannot serve with: main.ts prints it as a configuration error (exit 2). */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

export function isTlsConfigError(err: unknown): err is TlsConfigError {
  return err instanceof TlsConfigError || (err instanceof Error && err.name === 'TlsConfigError');
}
