// The database when DATABASE_URL is unset: PGlite (PostgreSQL compiled to WebAssembly, in this
// process) with its data in <dataDir>/pg, served on a loopback port by pglite-socket so the service
// reaches it through the same pg driver adapter and Prisma client as a real server. The migrations
// are applied at every start (nothing to do once they all are).
//
// PGlite is one PostgreSQL session. pglite-socket runs one protocol message at a time from a shared
// queue and, while a transaction is open, only the messages of the connection that opened it; the
// messages of two connections otherwise interleave, which breaks the extended query protocol. So
// exactly one client talks to it at a time: the migration engine's connection is gone before start()
// returns, and the service's pool must have one connection (everything else waits for it in pg's pool).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { applyMigrations, type MigrationSources } from './migrations.js';

export interface EmbeddedPostgresOptions extends MigrationSources {
  // PGlite's data directory goes under it, in pg/
  readonly dataDir: string;
}

export interface EmbeddedPostgres {
  // postgresql://… on 127.0.0.1; for one connection at a time
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
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 });
    await server.start();
    const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
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

async function detached(server: PGLiteSocketServer): Promise<void> {
  const deadline = Date.now() + DETACH_WAIT_MS;
  while (server.getStats().activeConnections > 0 && Date.now() < deadline) {
    await sleep(5);
  }
  // the detach that removed the last connection finishes on the next turn
  await new Promise<void>((resolve) => setImmediate(resolve));
}
