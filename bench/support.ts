// What the measuring scripts share: the environment they give the service, the built service as
// a child process, sessions for made-up users, and a raw S3 client. Run with Node's type
// stripping (no build), against the services of `npm run services:up` (their environment, or
// its defaults); the service itself must be built (`npm run build`).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { LOCAL_SERVICES_ENV } from '../tools/services/local-env.ts';
import { SESSION_TTL_SECONDS, UPLOAD_SCOPE, sessionKey } from '@koodrive/protocol';
import { bearer, KooDriveApi } from '@koodrive/upload-client';

export type Env = Record<string, string>;

const ROOT = path.resolve(import.meta.dirname, '..');

export function serviceEnv(port: number, overrides: Env = {}): Env {
  return {
    ...LOCAL_SERVICES_ENV,
    ...(process.env as Env),
    PORT: String(port),
    // /metrics has a listener of its own: the next port up
    METRICS_PORT: String(port + 1),
    HOST: '127.0.0.1',
    OTEL_SDK_DISABLED: 'true',
    ...overrides,
  };
}

// Where a service started with `env` serves /metrics.
export function metricsUrlOf(env: Env): string {
  return `http://127.0.0.1:${env.METRICS_PORT}/metrics`;
}

// Starts dist/apps/upload/src/main.js and waits until /readyz says yes.
export async function startService(env: Env): Promise<ChildProcess> {
  const service = spawn(process.execPath, ['dist/apps/upload/src/main.js'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${baseUrl}/readyz`).catch(() => null))?.ok === true) {
      return service;
    }
    if (i > 150 || service.exitCode !== null) {
      service.kill();
      throw new Error('the service did not become ready (is it built? are the services up?)');
    }
    await sleep(100);
  }
}

export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly containerId: string;
}

// A user with a session, as KooDrive's session service would write it.
export async function newSession(redis: Redis, prefix: string): Promise<Session> {
  const session = {
    token: randomBytes(24).toString('hex'),
    userId: `${prefix}-${randomBytes(6).toString('hex')}`,
    containerId: `${prefix}-${randomBytes(6).toString('hex')}`,
  };
  await redis.set(
    sessionKey(session.token),
    JSON.stringify({ userId: session.userId, containerId: session.containerId, scopes: [UPLOAD_SCOPE] }),
    'EX',
    SESSION_TTL_SECONDS,
  );
  return session;
}

// The upload API as the benches call it (the clients' own core): a session token, a trace id, and
// no retry: a bench counts what it sends, and an answer but code 0 fails it.
export function benchApi(baseUrl: string, token: string, traceId = randomBytes(16).toString('hex')): KooDriveApi {
  return new KooDriveApi({
    baseUrl,
    traceId,
    authenticate: bearer(token),
    retry: { attempts: 1, baseMs: 0, maxMs: 0 },
  });
}

export function s3Client(env: Env): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };

// "16MiB", "1GiB", "4096": a size in bytes.
export function parseSize(text: string): number {
  const match = /^(\d+)\s*(|KiB|MiB|GiB)$/i.exec(text.trim());
  if (match === null) {
    throw new Error(`not a size: ${text} (write 64MiB, 1GiB...)`);
  }
  return Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!;
}

// The object key the service gives a file (create-upload.service: <S3_KEY_PREFIX><container>/<fileId>).
export function objectKey(env: Env, containerId: string, fileId: string): string {
  return `${env.S3_KEY_PREFIX ?? 'files/'}${encodeURIComponent(containerId)}/${fileId}`;
}

// "16 MiB", "1 GiB": the largest binary unit that divides the size.
export function formatSize(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    const scale = SIZE_UNITS[unit.toUpperCase()]!;
    if (bytes >= scale && bytes % scale === 0) {
      return `${bytes / scale} ${unit}`;
    }
  }
  return `${bytes} B`;
}

// A memory figure of a running process from /proc/<pid>/status: VmRSS now, VmHWM its peak so far.
export async function processMemoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (kib === undefined) {
    throw new Error(`no ${field} in /proc/${pid}/status`);
  }
  return Number(kib);
}

// The machine's load average over the last minute (/proc/loadavg): said beside every figure, as
// the machine is shared.
export async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);
}

// The CPU time process `pid` has used so far, in seconds: the scheduler's count (nanoseconds) of
// each of its threads' time on a CPU, where the kernel keeps it (/proc/<pid>/task/*/schedstat);
// else utime + stime from /proc/<pid>/stat, counted in 10 ms ticks.
export async function processCpuSeconds(pid: number): Promise<number> {
  try {
    const tasks = await readdir(`/proc/${pid}/task`);
    const times = await Promise.all(
      tasks.map((task) =>
        readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8').then(
          (text) => Number(text.split(' ')[0]),
          // a thread that ended between the listing and the read: its time is in no task any more
          () => 0,
        ),
      ),
    );
    return times.reduce((sum, ns) => sum + ns, 0) / 1e9;
  } catch {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }
}

// The CPU time these processes have used so far, together, in seconds.
export async function processesCpuSeconds(pids: readonly number[]): Promise<number> {
  const seconds = await Promise.all(pids.map(processCpuSeconds));
  return seconds.reduce((sum, s) => sum + s, 0);
}

// The pids of the processes named so (pgrep -x): none when no such process runs here.
export function pidsNamed(...names: string[]): number[] {
  return names.flatMap((name) => {
    const found = spawnSync('pgrep', ['-x', name], { encoding: 'utf8' }).stdout.trim();
    return found === '' ? [] : found.split('\n').map(Number);
  });
}

// Stops a service startService started, and waits until it has exited (its port is free again).
export async function stopService(service: ChildProcess): Promise<void> {
  if (service.exitCode !== null || service.signalCode !== null) {
    return;
  }
  const exited = once(service, 'exit');
  service.kill('SIGTERM');
  await exited;
}

// A module of the built service (dist/), for code that type stripping cannot run from source
// (its relative imports are written as .js).
export async function importBuilt<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(path.join(ROOT, 'dist', file)).href)) as T;
}

// Brings up the local services (services:up) and takes the environment it prints into this
// process: what every bench runs against.
export function servicesUp(): Env {
  const up = spawnSync('bash', [path.join(ROOT, 'tools/services/up.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (up.status !== 0) {
    throw new Error('services:up failed');
  }
  for (const [, name, value] of up.stdout.matchAll(/^export (\w+)=(.*)$/gm)) {
    process.env[name!] = value!;
  }
  return process.env as Env;
}
