import { tracing } from './tracing.js';

// Loaded only now, so the instrumentations see every module they patch.
const { loadAppConfig } = await import('@koodrive/config');
const { createApp } = await import('./bootstrap.js');

const { Logger } = await import('nestjs-pino');

const config = loadAppConfig();
const app = await createApp();
await app.listen({ port: config.port, host: config.host });
app.get(Logger).log(`koodrive-upload listening on http://${config.host}:${config.port}`, 'Main');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app
      .close()
      .then(() => tracing.shutdown())
      .catch((error: unknown) => {
        console.error('shutdown failed', error);
        process.exitCode = 1;
      });
  });
}
