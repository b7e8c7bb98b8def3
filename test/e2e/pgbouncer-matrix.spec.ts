// The PgBouncer row of the test matrix (issue 18): the whole suite run again with the tests'
// database behind PgBouncer 1.18 (Debian's) in transaction mode, the way a platform team deploys
// the service: DATABASE_URL through the pooler with DATABASE_POOLER=transaction, migrations to
// PostgreSQL itself (TEST_DIRECT_DATABASE_URL). The specs are the same compiled files npm test
// runs directly, found in the compiled tree (a new spec joins the row by itself), each run by
// `node --test` in a process of its own behind a PgBouncer of its own; each must pass with none
// skipped, and must have reached PostgreSQL through its pooler.
//
// Left out: the unit tier, and the specs named in NOT_THROUGH_THE_POOLER, each with why.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { until } from '../support/harness.ts';
import { PgBouncer, type PgBouncerOptions } from '../support/pgbouncer.ts';

// the root of the compiled tree this spec runs from (.out): .out/test/e2e → .out
const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// apps/ and libs/: the unit tier, which npm run test:unit runs with no service at all
const UNIT_TIER = ['apps/', 'libs/'];

// Specs that do not run through the pooler (paths in the compiled tree), and why.
const NOT_THROUGH_THE_POOLER: Readonly<Record<string, string>> = {
  'test/e2e/pgbouncer-matrix.spec.js': 'this row itself',
  'test/integration/migration-through-pooler.spec.js':
    'starts a PgBouncer of its own: migrations through one are refused',
  'test/integration/embedded-postgres.spec.js': 'PGlite in process: no PostgreSQL server to pool',
  'test/e2e/restarts.spec.js': 'a PostgreSQL of its own, stopped and started under a complete',
  'test/e2e/database-down.spec.js': 'a database at a dead port: nothing to pool',
  'test/deploy/image.spec.js': "builds and runs the container image; its database is the migration Job's, direct",
  'test/deploy/alerts.spec.js': 'no database: promtool on the alert rules',
  'test/deploy/compose.spec.js': 'no database: docker-compose config and the Dockerfile',
  'test/deploy/manifests.spec.js': 'no database: kustomize and the Kubernetes schemas',
  'tools/testing/fault-proxy.spec.js': 'no database: the fault proxy between servers of its own',
  'test/integration/redis-ports.spec.js': 'no database: the Redis and in-process ports',
  'test/integration/redis-event-publisher-replicas.spec.js': 'no database: the event publisher on Redis',
  'test/integration/token-tool.spec.js': 'no database: session records in Redis',
  'test/integration/s3-object-storage.spec.js': 'no database: the object storage contract on RGW',
  'test/integration/disk-object-storage.spec.js': 'no database: the object storage contract on local disk',
  'tools/otlp-sink.spec.js': 'no database: the OTLP sink decoding traces',
  'bench/profile.spec.js': "no database: the bench's CPU profile summary",
  'test/e2e/docs.spec.js': 'no database: the docs against the config loader and an embedded npm start',
};

// Behind a transaction-mode pooler the server's statement bound is the pooler's (its
// connect_query), set as the service's DATABASE_STATEMENT_TIMEOUT_MS (README, Scaling out). A spec
// that sets a tighter bound gets a pooler carrying it.
const POOLER_OPTIONS: Readonly<Record<string, PgBouncerOptions>> = {
  'test/e2e/dependency-stalls.spec.js': { statementTimeoutMs: 1_000 },
};

// every spec of the compiled tree, as a path inside it ('test/e2e/upload-flow.spec.js')
const ALL_SPECS = readdirSync(OUT, { recursive: true, encoding: 'utf8' })
  .map((file) => file.split(path.sep).join('/'))
  .filter((file) => file.endsWith('.spec.js'))
  .sort();
const SPECS = ALL_SPECS.filter(
  (spec) => !UNIT_TIER.some((tier) => spec.startsWith(tier)) && !(spec in NOT_THROUGH_THE_POOLER),
);

// a spec of the row, its own test's bound (web-upload alone takes minutes here; each of its tests
// has node --test's 300 s)
const SPEC_TIMEOUT_MS = 20 * 60_000;

// PostgreSQL itself, where the tests' database is
const direct = process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!;
const database = new URL(direct).pathname.slice(1);

interface Run {
  readonly code: number | null;
  readonly output: string;
}

// `node --test` on `specs`, with `env` on top of this process's environment.
function runSpecs(specs: readonly string[], env: Readonly<Record<string, string>>): Promise<Run> {
  // a runner of its own: without NODE_TEST_CONTEXT, which would make it report to this one's
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT'));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--test', '--test-concurrency=1', '--test-timeout=300000', '--test-reporter=spec', ...specs],
      { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

// the number after `ℹ <name>` in node --test's summary
function count(output: string, name: string): number {
  return Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
}

describe('the whole suite through PgBouncer in transaction mode', () => {
  it('the pooler is what it says: transaction mode, its own backend keys, the statement bound on the server side', async () => {
    const bouncer = await PgBouncer.start(direct);
    try {
      const client = new pg.Client({ connectionString: bouncer.url() });
      await client.connect();
      try {
        const { rows } = await client.query<{ pid: number; timeout: string }>(
          "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS timeout",
        );
        const announced = (client as unknown as { processID: number }).processID;
        assert.notEqual(rows[0]!.pid, announced, 'the login announced a key of the pooler, not the backend');
        assert.equal(rows[0]!.timeout, '10s');
      } finally {
        await client.end();
      }
      const admin = new pg.Client({ connectionString: bouncer.url(adminUrl(direct)) });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ key: string; value: string }>('SHOW CONFIG');
        assert.equal(rows.find((row) => row.key === 'pool_mode')?.value, 'transaction');
      } finally {
        await admin.end();
      }
    } finally {
      await bouncer.stop();
    }
  });

  it('leaves out only the unit tier and the specs it names, each of which exists', () => {
    for (const spec of [...Object.keys(NOT_THROUGH_THE_POOLER), ...Object.keys(POOLER_OPTIONS)]) {
      assert.ok(ALL_SPECS.includes(spec), `${spec} is named here but is no spec of ${OUT}`);
    }
    // the contract suite, at least, is in the row
    for (const spec of [
      'test/e2e/upload-flow.spec.js',
      'test/e2e/api-contract.spec.js',
      'test/e2e/claims-process.spec.js',
    ]) {
      assert.ok(SPECS.includes(spec), `${spec} is not in the row`);
    }
  });

  for (const spec of SPECS) {
    it(`passes ${spec}`, { timeout: SPEC_TIMEOUT_MS }, async (t) => {
      const bouncer = await PgBouncer.start(direct, POOLER_OPTIONS[spec]);
      try {
        const run = await runSpecs([path.join(OUT, spec)], {
          TEST_DATABASE_URL: bouncer.url(direct),
          TEST_DIRECT_DATABASE_URL: direct,
          DATABASE_POOLER: 'transaction',
        });
        const summary = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo']
          .map((name) => `${name} ${count(run.output, name)}`)
          .join(', ');
        assert.equal(run.code, 0, `${spec} failed through PgBouncer (${summary}):\n${run.output.slice(-30_000)}`);
        // every test ran and passed: none skipped, cancelled or left to do
        assert.ok(count(run.output, 'tests') > 0, `${spec} ran no test:\n${run.output.slice(-30_000)}`);
        assert.equal(count(run.output, 'pass'), count(run.output, 'tests'), summary);
        for (const name of ['fail', 'cancelled', 'skipped', 'todo']) {
          assert.equal(count(run.output, name), 0, `${name}: ${summary}`);
        }
        // and it reached PostgreSQL through this pooler: its stats (refreshed every second) count
        // transactions on the tests' database
        const served = await until(
          `PgBouncer counts ${spec}'s transactions (a spec that needs no database belongs in NOT_THROUGH_THE_POOLER, saying so)`,
          async () => {
            const stats = await pgbouncerStats(bouncer);
            return stats.transactions > 0 ? stats : undefined;
          },
          10_000,
        );
        t.diagnostic(`${summary}; PgBouncer served ${served.transactions} transactions, ${served.queries} statements`);
      } finally {
        await bouncer.stop();
      }
    });
  }
});

async function pgbouncerStats(bouncer: PgBouncer): Promise<{ transactions: number; queries: number }> {
  const admin = new pg.Client({ connectionString: bouncer.url(adminUrl(direct)) });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ database: string; total_xact_count: string; total_query_count: string }>(
      'SHOW STATS',
    );
    const stats = rows.find((row) => row.database === database);
    return { transactions: Number(stats?.total_xact_count ?? 0), queries: Number(stats?.total_query_count ?? 0) };
  } finally {
    await admin.end();
  }
}

// PgBouncer's admin console: the database "pgbouncer" (the fixture makes the server's user its admin)
function adminUrl(url: string): string {
  const admin = new URL(url);
  admin.pathname = '/pgbouncer';
  return admin.href;
}
