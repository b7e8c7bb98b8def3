// What the db tools share: where prisma/ is (relative to the working directory, the repository
// root under `npm run`, as in prisma.config.ts), the database (DIRECT_DATABASE_URL or DATABASE_URL), and the diff from the migrations to
// the schema. The engine itself (Prisma's WebAssembly schema engine through the pg driver adapter,
// offline) is in @koodrive/migrations, which the service uses for its embedded database too.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { noFilter, prismaSources, readMigrations, readSchema, withEngine } from '@koodrive/migrations';

export { lockfileContent } from '@koodrive/migrations';

const sources = prismaSources();
export const { migrationsDir } = sources;
export const schemaPath = path.resolve(process.env['PRISMA_SCHEMA'] ?? sources.schemaPath);

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (e.g. ${name}=postgresql://postgres@127.0.0.1:5432/koodrive)`);
  }
  return value;
}

// The database the tools work on, and the variable that named it: DIRECT_DATABASE_URL when set
// (Prisma's directUrl: PostgreSQL itself, where DATABASE_URL is a pooler the service uses), else
// DATABASE_URL.
export function migrationDatabase(): { readonly name: string; readonly url: string } {
  const name = process.env['DIRECT_DATABASE_URL'] ? 'DIRECT_DATABASE_URL' : 'DATABASE_URL';
  return { name, url: requireEnv(name) };
}

// Creates an empty scratch database on the server of `serverUrl`, runs `use` with its URL, and drops
// it afterwards whether `use` succeeded or not.
async function withTemporaryDatabase<T>(serverUrl: string, use: (url: string) => Promise<T>): Promise<T> {
  const name = `koodrive_shadow_${randomUUID().replaceAll('-', '')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    try {
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return await use(url.toString());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

// SQL taking a database migrated with prisma/migrations to the state prisma/schema.prisma describes,
// or null when they agree. Needs DIRECT_DATABASE_URL or DATABASE_URL, and a scratch database for the
// shadow, made on the server of SHADOW_DATABASE_URL if set, else of that one.
export async function diffMigrationsToSchema(): Promise<string | null> {
  const databaseUrl = migrationDatabase().url;
  const [migrations, schema] = await Promise.all([readMigrations(migrationsDir), readSchema(schemaPath)]);
  return withTemporaryDatabase(process.env['SHADOW_DATABASE_URL'] ?? databaseUrl, (shadowUrl) =>
    withEngine(
      databaseUrl,
      async (engine) => {
        const { exitCode, stdout } = await engine.diff({
          from: { tag: 'migrations', ...migrations },
          to: { tag: 'schemaDatamodel', files: [schema] },
          script: true,
          exitCode: true,
          filters: noFilter,
        });
        // With exitCode requested the engine answers 2 when there is a difference, 0 when there is none.
        return exitCode === 2 ? (stdout ?? '') : null;
      },
      { schemaPath, shadowDatabaseUrl: shadowUrl },
    ),
  );
}
