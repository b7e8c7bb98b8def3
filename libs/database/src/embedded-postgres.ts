// The database when DATABASE_URL is unset: PGlite (PostgreSQL compiled to WebAssembly, in this
// process) with its data in <dataDir>/pg, served by pglite-socket on a unix socket in a directory
// only this user may enter (<dataDir>/run, mode 0700: PGlite checks no password, so nobody else
// must reach it), so the service reaches it through the same pg driver adapter and Prisma client
// as a real server. The migrations
// are applied at every start (nothing to do once they all are).
//
// PGlite is one PostgreSQL session. pglite-socket runs one protocol message at a time from a shared
// queue and, while a transaction is open, only the messages of the connection that opened it; the
// messages of two connections otherwise interleave, which breaks the extended query protocol. So
// exactly one client talks to it at a time: the migration engine's connection is gone before start()
// returns, and the service's pool must have one connection (everything else waits for it in pg's pool).
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { applyMigrations, type MigrationSources } from '@koodrive/migrations';

export interface EmbeddedPostgresOptions extends MigrationSources {
  // PGlite's data directory goes under it, in pg/
  readonly dataDir: string;
}

export interface EmbeddedPostgres {
  // postgresql://… on the unix socket; for one connection at a time
  readonly url: string;
  // absolute path of PGlite's data directory
  readonly dataDir: string;
  // what this start applied, in order (none: the data was up to date)
  readonly appliedMigrations: readonly string[];
  // closes the server, then the database; call it after every client disconnected
  stop(): Promise<void>;
}

// A client that closed just before stop() is still being detached by the server (on a later turn of
// the event loop); the database must outlive that, so wait for it, a little.
const DETACH_WAIT_MS = 2_000;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir, 'pg');
  await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir });
  let server: PGLiteSocketServer | undefined;
  try {
    // a spare second connection so a pool replacing its broken connection never races the server's
    // detaching of the old one; two live clients never happen (see above)
    const socketDir = await privateSocketDir(options.dataDir);
    server = new PGLiteSocketServer({ db, path: path.join(socketDir, SOCKET_NAME), maxConnections: 2 });
    await server.start();
    const url = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`;
    const appliedMigrations = await applyMigrations(url, options, { poolSize: 1 });
    // the engine's pool has ended; wait until the server has let its connection go
    await detached(server);
    const running = server;
    return {
      url,
      dataDir,
      appliedMigrations,
      stop: async () => {
        await detached(running);
        await running.stop();
        await db.close();
      },
    };
  } catch (error) {
    await server?.stop();
    await db.close();
    throw error;
  }
}

// where pg looks for a server on port 5432 of a socket directory
const SOCKET_NAME = '.s.PGSQL.5432';
// a unix socket's path holds at most 107 bytes on Linux
const MAX_SOCKET_PATH = 100;

// <dataDir>/run with no socket left from a process that died, or, when that path is too long for a
// socket, a fresh directory of our own under the system's temporary directory; either mode 0700.
async function privateSocketDir(dataDir: string): Promise<string> {
  const dir = path.resolve(dataDir, 'run');
  if (path.join(dir, SOCKET_NAME).length > MAX_SOCKET_PATH) {
    return mkdtemp(path.join(tmpdir(), 'koodrive-pg-'));
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await rm(path.join(dir, SOCKET_NAME), { force: true });
  return dir;
}

async function detached(server: PGLiteSocketServer): Promise<void> {
  const deadline = Date.now() + DETACH_WAIT_MS;
  while (server.getStats().activeConnections > 0 && Date.now() < deadline) {
    await sleep(5);
  }
  // the detach that removed the last connection finishes on the next turn
  await new Promise<void>((resolve) => setImmediate(resolve));
}
