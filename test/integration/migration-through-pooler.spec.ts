// Migrations and PgBouncer in transaction mode (issue 18): the schema engine holds a session-level
// advisory lock across statements, which a pooler leaves held on a pooled server connection, where
// it blocks every later migration. A migration through the pooler is refused at once, saying to use
// DIRECT_DATABASE_URL; a lock left behind that way is named by the next migration, which gives up
// instead of waiting forever.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { checkMigrationTarget, MIGRATION_LOCK_KEY } from '@koodrive/migrations';
import { migrate } from '../../tools/db/migrate.ts';
import { PgBouncer } from '../support/pgbouncer.ts';

// PostgreSQL itself (test-env: TEST_DIRECT_DATABASE_URL when the tests' database is behind a pooler)
const direct = process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!;

async function lockHolders(): Promise<number[]> {
  const client = new pg.Client({ connectionString: direct });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = $1 AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [MIGRATION_LOCK_KEY],
    );
    return rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

describe('migrations and PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;

  before(async () => {
    bouncer = await PgBouncer.start(direct, { poolSize: 2 });
  });
  after(async () => {
    await bouncer?.stop();
  });

  it('a migration through the pooler is refused with a message naming DIRECT_DATABASE_URL, and takes no lock', async () => {
    await assert.rejects(migrate(bouncer.url(), 'DATABASE_URL'), (error: Error) => {
      assert.match(error.message, /^DATABASE_URL leads through a connection pooler/);
      assert.match(error.message, /Set DIRECT_DATABASE_URL to PostgreSQL itself/);
      return true;
    });
    assert.deepEqual(await lockHolders(), []);
    // and the same database directly is fine
    assert.deepEqual((await migrate(direct, 'DIRECT_DATABASE_URL')).applied, []);
  });

  it('a migration lock left on a pooled server connection is named by the next migration, which gives up', async () => {
    // what the engine's first statement does, through the pooler; then its client goes
    const locker = new pg.Client({ connectionString: bouncer.url() });
    await locker.connect();
    await locker.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await locker.end();
    const holders = await lockHolders();
    assert.equal(holders.length, 1, 'the pooled server connection keeps the lock its client is gone from');
    const holder = holders[0]!;

    await assert.rejects(
      checkMigrationTarget(direct, { name: 'DIRECT_DATABASE_URL', lockWaitMs: 500 }),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`advisory lock ${MIGRATION_LOCK_KEY}\\) is held by backend ${holder} \\(idle`),
        );
        assert.match(error.message, /most likely a pooler\u2019s server connection/);
        assert.match(error.message, new RegExp(`pg_terminate_backend\\(${holder}\\)`));
        return true;
      },
    );
    // a pooler restart frees it, as the message says
    await bouncer.stop();
    bouncer = await PgBouncer.start(direct, { poolSize: 2 });
    await until(async () => (await lockHolders()).length === 0);
    assert.deepEqual((await migrate(direct, 'DIRECT_DATABASE_URL')).applied, []);
  });
});

// the server sees a closed client connection a moment after the pooler closed it
async function until(probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error('timed out');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
