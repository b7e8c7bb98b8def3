// npm run openapi: writes the OpenAPI document of the HTTP API to openapi.json. Runs compiled
// (dist/tools/openapi.js: the app's decorators need tsc); needs no service to be up.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

// an app that only describes itself: no traces, no background jobs
Object.assign(process.env, {
  OTEL_SDK_DISABLED: 'true',
  LOG_LEVEL: 'warn',
  RECONCILE_INTERVAL_SECONDS: '0',
  REAP_INTERVAL_SECONDS: '0',
  OUTBOX_RELAY_INTERVAL_MS: '0',
  NODE_ENV: 'development',
  // its /metrics listener on any free port, whatever runs on 9464
  METRICS_PORT: '0',
});
const { createApp } = await import('../apps/upload/src/bootstrap.ts');
const { buildOpenApiDocument } = await import('../apps/upload/src/openapi.ts');

const app = await createApp();
try {
  const file = path.resolve(process.argv[2] ?? 'openapi.json');
  await writeFile(file, `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`);
  console.log(`openapi: wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await app.close();
}
