// npm run db:migrate: applies prisma/migrations to DATABASE_URL, like `prisma migrate deploy`.
import { applyMigrations } from '@koodrive/migrations';
import { migrationsDir, requireEnv, schemaPath } from './schema-engine.ts';

// Applies the migrations the database has not had yet and returns their names (none: already up to date).
export async function migrate(connectionString: string): Promise<string[]> {
  return applyMigrations(connectionString, { migrationsDir, schemaPath });
}

if (import.meta.main) {
  try {
    const applied = await migrate(requireEnv('DATABASE_URL'));
    console.log(
      applied.length === 0
        ? 'db:migrate: database is up to date, no migration applied'
        : `db:migrate: applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join('\n')}`,
    );
  } catch (error) {
    console.error(`db:migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
