// The embedded database, loaded only when asked for: a service with DATABASE_URL never loads PGlite.
import type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded-postgres.js';

export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded-postgres.js';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { startEmbeddedPostgres: start } = await import('./embedded-postgres.js');
  return start(options);
}
