// A PgBouncer of a test's own (Debian's package, as `PGBOUNCER=1 npm run services:up` runs it), in
// transaction mode on a free loopback port in front of a PostgreSQL server, with the settings
// tools/services/up.sh gives the development one. Everything lives in a temporary directory; the
// process goes with the test.
//
// This module reads no test environment: a spec may start the pooler first and then point the
// test environment at it (test/e2e/pgbouncer-matrix).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { deadPort } from './dead-port.ts';

// PgBouncer refuses to run as root; as root it is started as this user (Debian's postgresql
// package makes it), which must be able to read its directory.
const UNPRIVILEGED_USER = 'postgres';
// pgbouncer from Debian's package (/usr/sbin is not on every PATH)
const BINARIES = ['pgbouncer', '/usr/sbin/pgbouncer'];

export interface PgBouncerOptions {
  // server connections per database and user (PgBouncer's default_pool_size)
  readonly poolSize?: number;
  // the statement bound its server connections carry (connect_query), 10 s by default: the
  // service's default DATABASE_STATEMENT_TIMEOUT_MS, which behind a pooler is the pooler's to enforce
  readonly statementTimeoutMs?: number;
}

// The pgbouncer.ini both this fixture and tools/services/up.sh write (up.sh keeps its own copy of
// these lines; a change here belongs there too).
export function pgbouncerIni(settings: {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly listenPort: number;
  readonly authFile: string;
  // the user that may use the admin console (the database "pgbouncer": SHOW STATS, SHOW CONFIG)
  readonly adminUser: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly statsPeriodSeconds?: number;
}): string {
  return [
    '[databases]',
    // every database of the server, under its own name; each server connection gets the
    // service's statement bound (the service sends none behind a pooler: DATABASE_POOLER)
    `* = host=${settings.serverHost} port=${settings.serverPort} connect_query='SET statement_timeout = ${settings.statementTimeoutMs}'`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${settings.listenPort}`,
    // TCP only: no socket in /var/run/postgresql beside the server's
    'unix_socket_dir =',
    // the server trusts loopback (services:up); PgBouncer still wants the user in auth_file
    'auth_type = trust',
    `auth_file = ${settings.authFile}`,
    `admin_users = ${settings.adminUser}`,
    'pool_mode = transaction',
    `default_pool_size = ${settings.poolSize}`,
    'max_client_conn = 500',
    // PgBouncer 1.18 refuses any other startup parameter ("unsupported startup parameter"): with
    // DATABASE_POOLER=transaction the service sends no statement_timeout (connect_query above
    // bounds the statements)
    'ignore_startup_parameters = extra_float_digits',
    // a client waiting for a server connection gets an error, not a wait of 120 s (the default)
    'query_wait_timeout = 30',
    'server_connect_timeout = 5',
    // SHOW STATS's totals are refreshed every stats_period (60 s by default): at once for a test
    `stats_period = ${settings.statsPeriodSeconds ?? 60}`,
    '',
  ].join('\n');
}

export class PgBouncer {
  // everything pgbouncer wrote (it logs to stderr in the foreground)
  output = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    private readonly server: URL,
  ) {}

  // Starts pgbouncer in front of `serverUrl`'s server and waits until it serves that URL's
  // database. Fails when pgbouncer is not installed (npm run services:up installs it).
  static async start(serverUrl: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
    const binary = BINARIES.find((candidate) => spawnSync(candidate, ['--version']).error === undefined);
    if (binary === undefined) {
      throw new Error("pgbouncer is not installed (npm run services:up installs it from Debian's packages)");
    }
    const server = new URL(serverUrl);
    const dir = mkdtempSync(path.join(tmpdir(), 'koodrive-pgbouncer-'));
    const port = await deadPort();
    const ini = path.join(dir, 'pgbouncer.ini');
    const authFile = path.join(dir, 'userlist.txt');
    const user = decodeURIComponent(server.username || 'postgres');
    writeFileSync(authFile, `"${user}" ""\n`);
    writeFileSync(
      ini,
      pgbouncerIni({
        serverHost: server.hostname,
        serverPort: Number(server.port || 5432),
        listenPort: port,
        authFile,
        adminUser: user,
        poolSize: options.poolSize ?? 20,
        statementTimeoutMs: options.statementTimeoutMs ?? 10_000,
        statsPeriodSeconds: 1,
      }),
    );
    const args = [ini];
    if (userInfo().uid === 0) {
      for (const file of [dir, ini, authFile]) {
        const { uid, gid } = unprivilegedIds();
        chownSync(file, uid, gid);
      }
      args.unshift('-u', UNPRIVILEGED_USER);
    }
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const bouncer = new PgBouncer(child, dir, port, server);
    const onData = (chunk: Buffer): void => {
      bouncer.output += chunk.toString();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    process.once('exit', () => child.kill('SIGKILL'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`pgbouncer exited before it served:\n${bouncer.output}`);
      }
      if (await bouncer.answers()) {
        return bouncer;
      }
      if (Date.now() > deadline) {
        await bouncer.stop();
        throw new Error(`pgbouncer did not serve within 30 s:\n${bouncer.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // `url` (a URL of the server behind the pooler) as reached through the pooler.
  url(url: string = this.server.href): string {
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(this.port);
    return through.href;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async answers(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

function unprivilegedIds(): { uid: number; gid: number } {
  const found = spawnSync('id', ['-u', UNPRIVILEGED_USER], { encoding: 'utf8' });
  const group = spawnSync('id', ['-g', UNPRIVILEGED_USER], { encoding: 'utf8' });
  if (found.status !== 0 || group.status !== 0) {
    throw new Error(`pgbouncer does not run as root, and there is no user "${UNPRIVILEGED_USER}" to run it as`);
  }
  return { uid: Number(found.stdout.trim()), gid: Number(group.stdout.trim()) };
}
