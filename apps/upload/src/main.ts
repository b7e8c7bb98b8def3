import { setTimeout as sleep } from 'node:timers/promises';
import { deferDateTimeFormats } from './lazy-date-formats.js';

// The date formats modules build as they load are built when first used (lazy-date-formats.ts).
const restoreDateTimeFormats = deferDateTimeFormats();
const { tracing } = await import('./tracing.js');
// Loaded only now, so the instrumentations see every module they patch.
const { isEmbedded, loadAppConfig } = await import('@koodrive/config');
const { createApp } = await import('./bootstrap.js');
const { announceUploadPage, uploadPageAddress } = await import('./web/upload-page.js');

const { Logger } = await import('nestjs-pino');
const { ensurePortFree, exitOnBootFailure, portError } = await import('./boot-failure.js');
const { ShutdownState } = await import('./health/shutdown-state.js');
const { MetricsServer } = await import('./health/metrics-server.js');
restoreDateTimeFormats();

// at the shutdown deadline, traces get this long to go out
const TRACE_FLUSH_MS = 1_000;

const config = loadAppConfig();
// a cause a person can fix (a port in use, METRICS_PORT's included) ends the boot in one line
await Promise.all([
  ensurePortFree('PORT', config.port, config.host),
  ensurePortFree('METRICS_PORT', config.metricsPort, config.host),
]).catch(exitOnBootFailure);
const app = await createApp().catch(exitOnBootFailure);
const logger = app.get(Logger);
await app
  .listen({ port: config.port, host: config.host })
  .catch((error: unknown) => exitOnBootFailure(portError('PORT', config.port, config.host, error)));
if (!config.telemetry.disabled && config.telemetry.otlpEndpoint === undefined && isEmbedded(config)) {
  logger.log('embedded traces: a compact tree per request on stderr (OTEL_EXPORTER_OTLP_ENDPOINT unset)', 'Main');
}
logger.log(`koodrive-upload listening on http://${config.host}:${config.port}`, 'Main');
logger.log(`metrics for Prometheus on ${app.get(MetricsServer).url} (METRICS_PORT)`, 'Main');
announceUploadPage(app, uploadPageAddress(config.host, config.port), (message) => logger.log(message, 'Main'));

// SIGTERM (Kubernetes) or SIGINT: readiness goes false at once; the server keeps serving for
// SHUTDOWN_DRAIN_SECONDS while load balancers take the pod out (in embedded mode no balancer is in
// front, so Ctrl-C stops at once); then it stops accepting, lets
// in-flight requests (completes included) finish, stops the background jobs, closes the database
// and Redis, flushes the traces and exits. Whatever its dependencies do, the process is gone
// SHUTDOWN_TIMEOUT_SECONDS after the signal (the drain included; the traces get 1 s more):
// requests still unanswered then get a 503.
const drainSeconds = isEmbedded(config) ? 0 : config.shutdownDrainSeconds;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    const shutdown = app.get(ShutdownState);
    shutdown.beginDrain();
    logger.log(
      drainSeconds === 0 ? `${signal}: closing` : `${signal}: not ready; closing in ${drainSeconds} s`,
      'Main',
    );
    setTimeout(() => {
      const answered = shutdown.answerUnfinished();
      logger.warn(`shutdown deadline: ${answered} unfinished request(s) answered 503; exiting`, 'Main');
      void Promise.race([tracing.shutdown(), sleep(TRACE_FLUSH_MS)]).finally(() => process.exit(1));
    }, config.shutdownTimeoutSeconds * 1000);
    void sleep(drainSeconds * 1000)
      .then(() => app.close())
      .then(() => {
        logger.log('closed: in-flight requests done, connections closed', 'Main');
        return tracing.shutdown();
      })
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('shutdown failed', error);
          process.exit(1);
        },
      );
  });
}
