import { startTelemetry } from '@jr/telemetry';
import { formatConfigErrors, loadConfig } from './config/config.schema';
import { createLogger } from './common/logger';
import { startApi } from './api';
import { newApiMetrics } from './telemetry/api-metrics';
import { API_VERSION } from './version';
import { loadServerTls } from './tls/server-tls';
import { isTlsConfigError } from './tls/tls-config.error';

/** `jr-api` without a command: env-only configuration; exit 2 on bad config, clean stop on SIGTERM/SIGINT. */
export async function serve(): Promise<void> {
  // first: spans created from here on are exported per OTEL_* (or nothing is, at near-zero cost)
  const telemetry = startTelemetry({ serviceName: 'jr-api', serviceVersion: API_VERSION });
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(`${formatConfigErrors(loaded.errors)}\n`);
    process.exit(2);
  }
  const log = createLogger(loaded.config.logLevel);
  for (const w of loaded.warnings) log.warn(w);
  let api: Awaited<ReturnType<typeof startApi>>;
  try {
    const tls = (await loadServerTls(loaded.config, log)) ?? null;
    api = await startApi(loaded.config, { logger: log, metrics: newApiMetrics(true), tls });
  } catch (err) {
    if (isTlsConfigError(err)) {
      process.stderr.write(`${formatConfigErrors([err.message])}\n`);
      await telemetry.shutdown().catch(() => undefined);
      process.exit(2);
    }
    log.fatal({ err }, 'jr-api failed to start');
    process.stderr.write(`jr-api: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    await telemetry.shutdown().catch(() => undefined);
    process.exit(1);
  }
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'jr-api stopping');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    api
      .stop()
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'jr-api stop failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
