// HAProxy in front of the soak's replicas: Debian's package (installed with apt-get when missing,
// as tools/services/up.sh installs the services), a configuration written for the replicas, run in
// the foreground as a child process, and its stats page read as CSV (per replica: state, current
// sessions, retries, redispatches, answers by class).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const BACKEND = 'replicas';
export const COMPLETE_PATH = '/koodrive/ose/v1/files/complete';

export interface ServerStats {
  readonly name: string;
  // UP, DOWN, MAINT, "UP 1/2"...
  readonly status: string;
  // connections open to it now
  readonly current: number;
  readonly total: number;
  // requests retried on another connection, and redispatched to another replica
  readonly retries: number;
  readonly redispatches: number;
  readonly connectionErrors: number;
  readonly responseErrors: number;
  readonly http5xx: number;
}

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal})`);
  }
}

// Installs Debian's haproxy when it is not there; returns its version line.
export function ensureHaproxy(): string {
  const version = (): string | undefined => {
    const answer = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
    return answer.status === 0 ? answer.stdout.split('\n')[0] : undefined;
  };
  const installed = version();
  if (installed !== undefined) {
    return installed;
  }
  console.error('soak: installing Debian’s haproxy (apt-get)');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'haproxy']);
  const now = version();
  if (now === undefined) {
    throw new Error('haproxy is still not runnable after apt-get install haproxy');
  }
  return now;
}

// Round robin over the replicas, each checked on /readyz every second (a draining replica answers
// 503 there and is taken out). A request is sent again elsewhere only where that is safe: when it
// never reached a replica (conn-failure, always), and, for complete alone, which is idempotent (the
// same request gets the same answer), when the replica closed the connection without answering
// (empty-response: killed mid-request). A create retried that way could make a second task, and a
// part PUT's body is not buffered, so neither is.
export function haproxyConfig(port: number, statsPort: number, replicas: readonly { name: string; port: number }[]) {
  return `global
  maxconn 4096
  log stdout format raw local0 info

defaults
  mode http
  # only the requests that were not plain successes: errors, retries, redispatches, 5xx
  log global
  option dontlog-normal
  log-format "%tr %b/%s %ST %tsc retries=%rc %HM %HP Ta=%Ta"
  timeout connect 1s
  timeout http-request 15s
  timeout queue 30s
  # a complete may wait COMPLETE_WAIT_SECONDS (120) for another worker's lease
  timeout client 300s
  timeout server 300s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response

frontend upload
  bind 127.0.0.1:${port}
  default_backend ${BACKEND}

backend ${BACKEND}
  balance roundrobin
  http-request disable-l7-retry unless { path ${COMPLETE_PATH} }
  option httpchk GET /readyz
  http-check expect status 200
  default-server check inter 1s fall 2 rise 1
${replicas.map((replica) => `  server ${replica.name} 127.0.0.1:${replica.port}`).join('\n')}

listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
`;
}

export class Haproxy {
  private constructor(
    private readonly child: ChildProcess,
    private readonly statsUrl: string,
    private readonly logFile: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(dir: string, config: string, statsPort: number): Promise<Haproxy> {
    const file = path.join(dir, 'haproxy.cfg');
    await writeFile(file, config);
    run('haproxy', ['-c', '-f', file]);
    const logFile = path.join(dir, 'haproxy.log');
    const log = openSync(logFile, 'a');
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', log, log] });
    const haproxy = new Haproxy(child, `http://127.0.0.1:${statsPort}/stats;csv`, logFile);
    for (let i = 0; ; i++) {
      if ((await haproxy.stats().catch(() => undefined)) !== undefined) {
        return haproxy;
      }
      if (i > 100 || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`haproxy did not start (see ${dir}/haproxy.log)`);
      }
      await sleep(100);
    }
  }

  // The backend's servers, as the stats page shows them now.
  async stats(): Promise<ServerStats[]> {
    const response = await fetch(this.statsUrl);
    if (!response.ok) {
      throw new Error(`haproxy's stats answered ${response.status}`);
    }
    const [header, ...lines] = (await response.text()).trim().split('\n');
    const columns = header!.replace(/^# /, '').split(',');
    return lines
      .map((line) => new Map(line.split(',').map((value, i) => [columns[i]!, value])))
      .filter((row) => row.get('pxname') === BACKEND && !['BACKEND', 'FRONTEND'].includes(row.get('svname')!))
      .map((row) => ({
        name: row.get('svname')!,
        status: row.get('status')!,
        current: Number(row.get('scur')),
        total: Number(row.get('stot')),
        retries: Number(row.get('wretr')),
        redispatches: Number(row.get('wredis')),
        connectionErrors: Number(row.get('econ')),
        responseErrors: Number(row.get('eresp')),
        http5xx: Number(row.get('hrsp_5xx')),
      }));
  }

  // The requests haproxy logged (dontlog-normal: those that were not plain successes).
  async unusualRequests(): Promise<string[]> {
    const log = await readFile(this.logFile, 'utf8');
    return log.split('\n').filter((line) => /^\d\d\/\w{3}\/\d{4}:/.test(line));
  }

  // Waits until haproxy counts the replica in (UP) or out (anything else).
  async waitFor(server: string, up: boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = (await this.stats()).find((row) => row.name === server)?.status ?? '';
      if (status.startsWith('UP') === up && !status.includes('/')) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`haproxy did not see ${server} ${up ? 'up' : 'down'} within ${timeoutMs / 1000} s`);
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
  }
}
