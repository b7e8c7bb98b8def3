// The PgBouncer row of the test matrix (issue 18): a subset of the contract suite run again with the
// tests' database behind PgBouncer 1.18 (Debian's) in transaction mode, the way a platform team
// deploys the service: DATABASE_URL through the pooler with DATABASE_POOLER=transaction, migrations
// to PostgreSQL itself (TEST_DIRECT_DATABASE_URL). The specs are the same files npm test runs
// directly, each in a process of its own under `node --test`; this spec passes when they all pass.
//
// The subset, not the whole suite (which would double npm test's time): the upload flow (concurrent
// completes included), parts through the service, flash upload, the API contract, and the README's
// claims on completion leases, the reconciler, the reaper, the outbox relay and a real service
// process (readiness, SIGINT with a complete in flight).
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { until } from '../support/harness.ts';
import { PgBouncer } from '../support/pgbouncer.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SPECS = [
  'upload-flow',
  'part-upload',
  'flash-upload',
  'api-contract',
  'claims-api',
  'claims-completion',
  'claims-process',
].map((name) => path.join(HERE, `${name}.spec.js`));

// PostgreSQL itself, where the tests' database is
const direct = process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!;

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

describe('the contract suite (a subset) through PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;

  before(async () => {
    bouncer = await PgBouncer.start(direct);
  });
  after(async () => {
    await bouncer?.stop();
  });

  it('the pooler is what it says: transaction mode, its own backend keys, the statement bound on the server side', async () => {
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
  });

  it('passes upload-flow, part-upload, flash-upload, api-contract, claims-api, claims-completion and claims-process', async () => {
    const run = await runSpecs(SPECS, {
      TEST_DATABASE_URL: bouncer.url(direct),
      TEST_DIRECT_DATABASE_URL: direct,
      DATABASE_POOLER: 'transaction',
    });
    const summary = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo'].map(
      (name) => `${name} ${count(run.output, name)}`,
    );
    console.log(`through PgBouncer (port ${bouncer.port}): ${summary.join(', ')}`);
    assert.equal(run.code, 0, `the specs failed through PgBouncer:\n${run.output}`);
    assert.equal(count(run.output, 'fail'), 0);
    // every test ran and passed (56 when this was written)
    assert.equal(count(run.output, 'pass'), count(run.output, 'tests'));
    assert.ok(count(run.output, 'tests') >= 50, `too few tests ran:\n${run.output}`);
    // the pooler served them: its stats (refreshed every second) count the transactions
    const database = new URL(direct).pathname.slice(1);
    const served = await until('PgBouncer counts the transactions', async () => {
      const stats = await pgbouncerStats(bouncer, database);
      return stats.transactions > 200 ? stats : undefined;
    });
    console.log(`PgBouncer served ${served.transactions} transactions, ${served.queries} statements on ${database}`);
  });
});

async function pgbouncerStats(
  bouncer: PgBouncer,
  database: string,
): Promise<{ transactions: number; queries: number }> {
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
