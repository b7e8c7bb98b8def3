// What a migration needs of its connection, checked before the schema engine starts: a session of
// its own on PostgreSQL itself, and the migration lock free (or freed soon).
//
// The engine holds a session-level advisory lock (SELECT pg_advisory_lock(72707369)) from its
// first statement to its last, taking and releasing it in separate statements. Through a pooler in
// transaction mode (PgBouncer) those statements can run on different server connections: the lock
// stays held on a pooled server connection that no client owns, and every later migration, direct
// ones included, waits for it forever (the engine's own 10 s lock timeout gives up, but the
// statement it leaves behind keeps the process waiting).
//
// A pooler is recognised by the backend key it announces at login. PostgreSQL's BackendKeyData
// carries the pid of the backend serving the session, the one pg_backend_pid() returns; a pooler
// cannot tie a client to one backend, so it makes up a key of its own (PgBouncer: random bytes, in
// every pool mode). A plain TCP proxy passes the server's key on, and is no problem.
import pg from 'pg';

// the key of Prisma's migration lock (the engine's `SELECT pg_advisory_lock(72707369)`)
export const MIGRATION_LOCK_KEY = 72707369;

export interface MigrationTargetOptions {
  // the variable the connection string came from, for the messages
  readonly name: string;
  // how long a migration lock held by another session may take to be released (the engine's own
  // timeout is 10 s)
  readonly lockWaitMs?: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 10_000;
const LOCK_POLL_MS = 250;

// Fails with a message saying what to do when `connectionString` leads through a pooler, or when
// another session holds the migration lock for longer than `lockWaitMs`.
export async function checkMigrationTarget(connectionString: string, options: MigrationTargetOptions): Promise<void> {
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    await refusePooler(client, options.name);
    await waitForMigrationLock(client, options.lockWaitMs ?? 10_000);
  } finally {
    await client.end();
  }
}

async function refusePooler(client: pg.Client, name: string): Promise<void> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const announced = (client as unknown as { processID: number | null }).processID;
  const backend = rows[0]?.pid;
  if (backend !== announced) {
    throw new Error(
      `${name} leads through a connection pooler (the login announced backend ${String(announced)}, ` +
        `the server says it is ${String(backend)}), refused: a migration holds a session-level advisory lock ` +
        'that a pooler in transaction mode leaves held on a pooled server connection, where it blocks every ' +
        'later migration. Set DIRECT_DATABASE_URL to PostgreSQL itself (Prisma\u2019s directUrl convention); ' +
        'the service keeps using the pooler.',
    );
  }
}

interface LockHolder {
  readonly pid: number;
  readonly state: string | null;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly stateChange: Date | null;
  readonly query: string;
}

// Waits, up to `waitMs`, until no other session holds the migration lock; then fails naming it.
async function waitForMigrationLock(client: pg.Client, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const holder = await migrationLockHolder(client);
    if (holder === undefined) {
      return;
    }
    if (Date.now() >= deadline) {
      throw new Error(describeHolder(holder, waitMs));
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

async function migrationLockHolder(client: pg.Client): Promise<LockHolder | undefined> {
  const { rows } = await client.query<LockHolder>(
    `SELECT a.pid, a.state, a.application_name AS "applicationName", host(a.client_addr) AS "clientAddr",
            a.state_change AS "stateChange", left(a.query, 200) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1`,
    [MIGRATION_LOCK_KEY],
  );
  return rows[0];
}

function describeHolder(holder: LockHolder, waitMs: number): string {
  const who =
    `backend ${holder.pid} (${holder.state ?? 'unknown state'} since ${holder.stateChange?.toISOString() ?? '?'}, ` +
    `from ${holder.clientAddr ?? 'a local socket'}${holder.applicationName === '' ? '' : `, application "${holder.applicationName}"`}, ` +
    `last statement: ${holder.query})`;
  const advice =
    holder.state === 'idle'
      ? 'An idle session holding it is most likely a pooler\u2019s server connection, left with the lock by a ' +
        `migration run through the pooler: restart the pooler, or end that backend (SELECT pg_terminate_backend(${holder.pid})).`
      : 'Another migration is probably running; run this one once it has finished.';
  return `the migration lock (advisory lock ${MIGRATION_LOCK_KEY}) is held by ${who} and was not released within ${waitMs} ms. ${advice}`;
}
