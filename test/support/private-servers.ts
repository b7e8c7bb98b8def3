// A PostgreSQL and a Redis of a test's own (from the machine's Debian packages), so the test can
// really stop and restart them without disturbing the shared ones. Data lives in a temporary
// directory and survives a restart (Redis with its append-only file), as in production.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deadPort } from './dead-port.ts';

const isRoot = process.getuid?.() === 0;

// Runs a PostgreSQL binary as the postgres user when we are root (initdb and postgres refuse root).
function asPostgres(command: string, args: readonly string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, [...args]];
}

function postgresBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  const version = versions.at(-1);
  if (version === undefined) {
    throw new Error('no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)');
  }
  return `/usr/lib/postgresql/${version}/bin/${name}`;
}

async function waitForPort(port: number, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) {
      return;
    }
    await sleep(50);
  }
  throw new Error(`${name} did not start listening on ${port}`);
}

abstract class PrivateServer {
  protected process: ChildProcess | undefined;
  readonly dir: string;
  readonly port: number;

  protected constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  protected abstract spawnServer(): ChildProcess;

  async start(): Promise<void> {
    this.process = this.spawnServer();
    // a spec that dies early must not leave a server behind
    process.once('exit', () => this.kill());
    await waitForPort(this.port, this.constructor.name);
  }

  // synchronous, for process exit
  protected kill(): void {
    this.process?.kill('SIGKILL');
  }

  // A clean shutdown (SIGTERM to Redis; SIGINT, "fast", to PostgreSQL: open sessions are ended).
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const running = this.process;
    this.process = undefined;
    if (running !== undefined && running.exitCode === null && running.signalCode === null) {
      const exited = once(running, 'exit');
      running.kill(signal);
      await exited;
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class PrivatePostgres extends PrivateServer {
  readonly url: string;

  private constructor(dir: string, port: number) {
    super(dir, port);
    this.url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  }

  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'koodrive-pg-'));
    if (isRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
    }
    const [command, args] = asPostgres(postgresBin('initdb'), [
      '-D',
      path.join(dir, 'data'),
      '-U',
      'postgres',
      '-A',
      'trust',
      '--no-sync',
    ]);
    execFileSync(command, args, { stdio: 'ignore' });
    const server = new PrivatePostgres(dir, await deadPort());
    await server.start();
    return server;
  }

  protected spawnServer(): ChildProcess {
    const [command, args] = asPostgres(postgresBin('postgres'), [
      '-D',
      path.join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ]);
    return spawn(command, args, { stdio: 'ignore' });
  }

  protected override kill(): void {
    if (this.process !== undefined) {
      const [command, args] = asPostgres(postgresBin('pg_ctl'), [
        'stop',
        '-D',
        path.join(this.dir, 'data'),
        '-m',
        'immediate',
      ]);
      try {
        execFileSync(command, args, { stdio: 'ignore' });
      } catch {
        // not running
      }
    }
  }

  // pg_ctl's fast shutdown: open sessions are terminated (57P01), as in a real restart
  override async stop(): Promise<void> {
    if (this.process === undefined) {
      return;
    }
    const [command, args] = asPostgres(postgresBin('pg_ctl'), [
      'stop',
      '-D',
      path.join(this.dir, 'data'),
      '-m',
      'fast',
      '-w',
    ]);
    execFileSync(command, args, { stdio: 'ignore' });
    await super.stop();
  }
}

export class PrivateRedis extends PrivateServer {
  readonly url: string;

  private constructor(dir: string, port: number) {
    super(dir, port);
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async create(): Promise<PrivateRedis> {
    const server = new PrivateRedis(mkdtempSync(path.join(tmpdir(), 'koodrive-redis-')), await deadPort());
    await server.start();
    return server;
  }

  protected spawnServer(): ChildProcess {
    return spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes'],
      { stdio: 'ignore' },
    );
  }
}
