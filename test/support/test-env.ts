// Imported first by every integration and end-to-end spec: points the service at the test
// database and the local services (`npm run services:up`), unless the environment says otherwise.
import { LOCAL_SERVICES_ENV } from '../../tools/services/local-env.ts';

const defaults: Record<string, string> = {
  ...LOCAL_SERVICES_ENV,
  NODE_ENV: 'test',
  DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/koodrive_test',
  OTEL_SDK_DISABLED: 'true',
  LOG_LEVEL: 'warn',
  // background jobs run when a test says so (their runOnce), not on a timer racing other tests;
  // test/e2e/crash-recovery runs them on their intervals in a real process
  RECONCILE_INTERVAL_SECONDS: '0',
  REAP_INTERVAL_SECONDS: '0',
  OUTBOX_RELAY_INTERVAL_MS: '0',
  EVENTS_STREAM: 'koodrive:test:file-events',
};

for (const [name, value] of Object.entries(defaults)) {
  process.env[name] ??= value;
}
// the test database, never the development one
if (process.env.TEST_DATABASE_URL !== undefined) {
  process.env.DATABASE_URL = process.env.TEST_DATABASE_URL;
}
