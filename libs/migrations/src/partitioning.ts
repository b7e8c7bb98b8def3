// The outbox partitioned by day with pg_partman (Debian's postgresql-NN-partman, 4.7), set up after
// the migrations. The schema engine cannot express PostgreSQL partitioning (no PARTITION BY in
// schema.prisma, and its migrations are never hand-written here), so the engine keeps making
// outbox_events as a plain table and pg_partman partitions it in place with its trigger-based mode
// ('partman' type): one child table a day (outbox_events_pYYYY_MM_DD) inheriting from
// outbox_events, and an insert trigger that routes each row to its day. Reads and updates through
// outbox_events see every child; the relay's scan is one index probe per child. What it buys: the
// published events of a day go with one DROP TABLE when that day leaves the retention window
// (OutboxPartitionsService in the service), instead of a DELETE that leaves the table and its
// indexes to vacuum.
//
// Native (declarative) partitioning would need outbox_events created PARTITION BY, which pg_partman
// 4.7 also cannot do to an existing table; trigger routing costs one PL/pgSQL call per event (one per
// completed file), which is nothing beside the completion itself.
import pg from 'pg';

// auto: partition when the server has pg_partman, say why not otherwise; pg_partman: required, a
// server without it fails the migration; none: leave outbox_events a plain table.
export type PartitioningMode = 'auto' | 'pg_partman' | 'none';

export const PARTITIONING_MODES: readonly PartitioningMode[] = ['auto', 'pg_partman', 'none'];

// what happened, for the migration tool's output
export type PartitioningOutcome =
  | { readonly state: 'partitioned'; readonly movedRows: number }
  | { readonly state: 'already-partitioned' }
  | { readonly state: 'off' }
  | { readonly state: 'unavailable'; readonly reason: string };

// days of children made ahead of today
const PREMAKE_DAYS = 4;
// an advisory lock of its own, so two migration runs at once partition the table once
const PARTITIONING_LOCK_KEY = 72707370;
const STATEMENT_TIMEOUT_MS = 120_000;

export function parsePartitioningMode(value: string | undefined): PartitioningMode {
  const mode = (value ?? 'auto') as PartitioningMode;
  if (!PARTITIONING_MODES.includes(mode)) {
    throw new Error(`DATABASE_PARTITIONING must be one of ${PARTITIONING_MODES.join(', ')}; got "${value}"`);
  }
  return mode;
}

// Partitions outbox_events by day with pg_partman unless it already is, moving the rows it holds
// into their days' children. `connectionString` must reach PostgreSQL itself (the migration's
// connection), as a role that owns outbox_events and may create the extension or already has it.
export async function partitionOutbox(connectionString: string, mode: PartitioningMode): Promise<PartitioningOutcome> {
  if (mode === 'none') {
    return { state: 'off' };
  }
  const client = new pg.Client({ connectionString, query_timeout: STATEMENT_TIMEOUT_MS });
  await client.connect();
  try {
    const partman = await partmanSchema(client);
    if (typeof partman !== 'string') {
      if (mode === 'pg_partman') {
        throw new Error(`DATABASE_PARTITIONING=pg_partman, but ${partman.reason}`);
      }
      return partman;
    }
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITIONING_LOCK_KEY]);
      const outcome = await partitionInTransaction(client, partman);
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await client.end();
  }
}

// The schema pg_partman is installed in, installing it in `partman` when the server offers it; or
// why it cannot be used.
async function partmanSchema(client: pg.Client): Promise<string | { state: 'unavailable'; reason: string }> {
  const installed = await installedSchema(client);
  if (installed !== undefined) {
    return installed;
  }
  const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'");
  if (rows.length === 0) {
    return {
      state: 'unavailable',
      reason: 'the server has no pg_partman (Debian: apt-get install postgresql-<version>-partman)',
    };
  }
  try {
    await client.query('CREATE SCHEMA IF NOT EXISTS partman');
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman');
  } catch (error) {
    return {
      state: 'unavailable',
      reason: `CREATE EXTENSION pg_partman failed (${(error as Error).message}); a superuser can create it once`,
    };
  }
  return (await installedSchema(client)) ?? 'partman';
}

async function installedSchema(client: pg.Client): Promise<string | undefined> {
  const { rows } = await client.query<{ schema: string }>(
    "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pg_partman'",
  );
  return rows[0]?.schema;
}

async function partitionInTransaction(client: pg.Client, partman: string): Promise<PartitioningOutcome> {
  const schema = pg.escapeIdentifier(partman);
  const parent = await outboxTable(client);
  const { rows: configured } = await client.query(`SELECT 1 FROM ${schema}.part_config WHERE parent_table = $1`, [
    parent,
  ]);
  if (configured.length > 0) {
    return { state: 'already-partitioned' };
  }
  await client.query(
    `SELECT ${schema}.create_parent($1, 'created_at', 'partman', 'daily', p_premake := $2, p_jobmon := false)`,
    [parent, PREMAKE_DAYS],
  );
  // keep making days ahead when no event arrives for a while; retention is the service's job
  // (it drops only days whose events are all published), never pg_partman's
  await client.query(
    `UPDATE ${schema}.part_config SET infinite_time_partitions = true, retention = NULL WHERE parent_table = $1`,
    [parent],
  );
  const { rows } = await client.query<{ moved: string | null }>(
    `SELECT ${schema}.partition_data_time($1, p_batch_count := 2147483647) AS moved`,
    [parent],
  );
  return { state: 'partitioned', movedRows: Number(rows[0]?.moved ?? 0) };
}

// outbox_events as pg_partman names it: schema-qualified, in the schema the migrations made it in
async function outboxTable(client: Pick<pg.Client, 'query'>): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
      "WHERE c.oid = to_regclass('outbox_events')",
  );
  const name = rows[0]?.name;
  if (name === undefined) {
    throw new Error('outbox_events does not exist: run the migrations first');
  }
  return name;
}
