// npm run db:check: fails (exit code 2, printing the missing SQL) when prisma/schema.prisma describes a
// database other than the one prisma/migrations builds, i.e. when a migration is missing.
import path from 'node:path';
import { diffMigrationsToSchema, schemaPath } from './schema-engine.ts';

const schema = path.relative(process.cwd(), schemaPath);

try {
  const sql = await diffMigrationsToSchema();
  if (sql === null) {
    console.log(`db:check: OK, ${schema} matches prisma/migrations`);
  } else {
    console.error(
      `db:check: ${schema} differs from prisma/migrations; \`npm run db:diff -- --name <name>\` would add:\n`,
    );
    console.error(sql);
    process.exitCode = 2;
  }
} catch (error) {
  console.error(`db:check failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
