// Imported first by main.ts: the SDK (and its ESM loader hook) must be in place before Nest,
// Fastify, pg, ioredis or the AWS SDK are loaded.
import { isEmbedded, loadAppConfig } from '@koodrive/config';
import { startTracing } from '@koodrive/telemetry';
import { exitOnBootFailure } from './boot-failure.js';

// the first read of the configuration: a bad variable ends the boot here, said once, without a stack
const config = (() => {
  try {
    return loadAppConfig();
  } catch (error) {
    return exitOnBootFailure(error);
  }
})();
const { telemetry } = config;

export const tracing = startTracing({
  serviceName: telemetry.serviceName,
  disabled: telemetry.disabled,
  otlpEndpoint: telemetry.otlpEndpoint,
  embedded: isEmbedded(config),
});
