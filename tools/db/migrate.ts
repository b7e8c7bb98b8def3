// npm run db:migrate: applies prisma/migrations to DIRECT_DATABASE_URL, or DATABASE_URL when that is
// unset, like `prisma migrate deploy`. A connection through a pooler is refused, and a migration lock
// another session holds is waited for only so long (see @koodrive/migrations' checkMigrationTarget).
import { applyMigrations, checkMigrationTarget } from '@koodrive/migrations';
import { migrationDatabase, migrationsDir, schemaPath } from './schema-engine.ts';

// Applies the migrations the database has not had yet and returns their names (none: already up to
// date). `name` says where the connection string came from, in the messages.
export async function migrate(connectionString: string, name = 'the database URL'): Promise<string[]> {
  await checkMigrationTarget(connectionString, { name });
  return applyMigrations(connectionString, { migrationsDir, schemaPath });
}

if (import.meta.main) {
  try {
    const { name, url } = migrationDatabase();
    const applied = await migrate(url, name);
    console.log(
      applied.length === 0
        ? 'db:migrate: database is up to date, no migration applied'
        : `db:migrate: applied ${applied.length} migration(s):\n${applied.map((migration) => `  ${migration}`).join('\n')}`,
    );
  } catch (error) {
    console.error(`db:migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
