// npm run db:migrate: applies prisma/migrations to DIRECT_DATABASE_URL, or DATABASE_URL when that is
// unset, like `prisma migrate deploy`, then partitions the outbox by day with pg_partman
// (DATABASE_PARTITIONING: auto, pg_partman or none; see @koodrive/migrations' partitioning). A
// connection through a pooler is refused, and a migration lock another session holds is waited for
// only so long (see @koodrive/migrations' checkMigrationTarget).
import {
  applyMigrations,
  checkMigrationTarget,
  parsePartitioningMode,
  partitionOutbox,
  type PartitioningOutcome,
} from '@koodrive/migrations';
import { migrationDatabase, migrationsDir, schemaPath } from './schema-engine.ts';

export interface MigrationReport {
  // the migrations applied by this run (none: the database was up to date)
  readonly applied: string[];
  readonly partitioning: PartitioningOutcome;
}

// Applies the migrations the database has not had yet, then partitions the outbox unless it is.
// `name` says where the connection string came from, in the messages.
export async function migrate(
  connectionString: string,
  name = 'the database URL',
  partitioning = parsePartitioningMode(process.env['DATABASE_PARTITIONING']),
): Promise<MigrationReport> {
  await checkMigrationTarget(connectionString, { name });
  const applied = await applyMigrations(connectionString, { migrationsDir, schemaPath });
  return { applied, partitioning: await partitionOutbox(connectionString, partitioning) };
}

function describe(outcome: PartitioningOutcome): string {
  switch (outcome.state) {
    case 'partitioned':
      return `outbox_events partitioned by day with pg_partman (${outcome.movedRows} existing event(s) moved)`;
    case 'already-partitioned':
      return 'outbox_events is partitioned by day with pg_partman';
    case 'off':
      return 'outbox_events left unpartitioned (DATABASE_PARTITIONING=none)';
    case 'unavailable':
      return `outbox_events left unpartitioned: ${outcome.reason}`;
  }
}

if (import.meta.main) {
  try {
    const { name, url } = migrationDatabase();
    const { applied, partitioning } = await migrate(url, name);
    console.log(
      applied.length === 0
        ? 'db:migrate: database is up to date, no migration applied'
        : `db:migrate: applied ${applied.length} migration(s):\n${applied.map((migration) => `  ${migration}`).join('\n')}`,
    );
    console.log(`db:migrate: ${describe(partitioning)}`);
  } catch (error) {
    console.error(`db:migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
