// Imported first by every integration and end-to-end spec: points the service at the test
// database and the local services (`npm run services:up`), unless the environment says otherwise.
// The database is TEST_DATABASE_URL's (default koodrive_test), never DATABASE_URL's, and one whose
// name does not end in _test is refused: tests migrate it, write to it and clean it.
import { LOCAL_SERVICES_ENV } from '../../tools/services/local-env.ts';

const defaults: Record<string, string> = {
  ...LOCAL_SERVICES_ENV,
  NODE_ENV: 'test',
  OTEL_SDK_DISABLED: 'true',
  LOG_LEVEL: 'warn',
  // each app's /metrics listener on a free port of its own (TestApp.metricsUrl says which)
  METRICS_PORT: '0',
  // background jobs run when a test says so (their runOnce), not on a timer racing other tests;
  // test/e2e/crash-recovery runs them on their intervals in a real process
  RECONCILE_INTERVAL_SECONDS: '0',
  REAP_INTERVAL_SECONDS: '0',
  OUTBOX_RELAY_INTERVAL_MS: '0',
  OUTBOX_PARTITION_INTERVAL_SECONDS: '0',
  EVENTS_STREAM: 'koodrive:test:file-events',
  // what the tests store, under a prefix of their own (the global teardown removes it)
  S3_KEY_PREFIX: 'test-files/',
};

for (const [name, value] of Object.entries(defaults)) {
  process.env[name] ??= value;
}
process.env.DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/koodrive_test';
// With the tests' database behind a pooler (`PGBOUNCER=1 npm run services:up`), migrations go to
// PostgreSQL itself at TEST_DIRECT_DATABASE_URL; never to DIRECT_DATABASE_URL's development database.
if (process.env.TEST_DIRECT_DATABASE_URL === undefined) {
  delete process.env.DIRECT_DATABASE_URL;
} else {
  process.env.DIRECT_DATABASE_URL = process.env.TEST_DIRECT_DATABASE_URL;
}
for (const [name, url] of [
  ['TEST_DATABASE_URL', process.env.DATABASE_URL],
  ['TEST_DIRECT_DATABASE_URL', process.env.DIRECT_DATABASE_URL],
] as const) {
  const database = url === undefined ? '_test' : new URL(url).pathname.slice(1);
  if (!database.endsWith('_test')) {
    throw new Error(`the tests run only on a database whose name ends in _test, not "${database}" (${name})`);
  }
}
