// Imported first by main.ts: the SDK (and its ESM loader hook) must be in place before Nest,
// Fastify, pg, ioredis or the AWS SDK are loaded.
import { isEmbedded, loadAppConfig } from '@koodrive/config';
import { startTracing } from '@koodrive/telemetry';

const config = loadAppConfig();
const { telemetry } = config;

export const tracing = startTracing({
  serviceName: telemetry.serviceName,
  disabled: telemetry.disabled,
  otlpEndpoint: telemetry.otlpEndpoint,
  embedded: isEmbedded(config),
});
