// npm run db:diff -- --name <name>: writes the SQL taking the existing migrations to prisma/schema.prisma
// as a new migration, prisma/migrations/<yyyyMMddHHmmss>_<name>/migration.sql, like
// `prisma migrate dev --create-only`. The SQL comes from the schema engine's diff.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { diffMigrationsToSchema, lockfileContent, migrationsDir, schemaPath } from './schema-engine.ts';

try {
  const { name } = parseArgs({ options: { name: { type: 'string' } } }).values;
  if (!name || !/^[a-z0-9_]+$/.test(name)) {
    throw new Error('give the migration a name of lowercase letters, digits and _: npm run db:diff -- --name <name>');
  }
  const sql = await diffMigrationsToSchema();
  if (sql === null) {
    console.log(`db:diff: ${path.relative(process.cwd(), schemaPath)} matches the migrations; no migration written`);
  } else {
    // UTC, as Prisma names migrations
    const timestamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(migrationsDir, `${timestamp}_${name}`);
    await mkdir(migrationsDir, { recursive: true });
    await mkdir(dir); // fails rather than overwrite a migration made in the same second
    await writeFile(path.join(dir, 'migration.sql'), sql);
    await writeFile(path.join(migrationsDir, 'migration_lock.toml'), lockfileContent);
    console.log(`db:diff: wrote ${path.relative(process.cwd(), path.join(dir, 'migration.sql'))}`);
  }
} catch (error) {
  console.error(`db:diff failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
