// The soak's replicas: each the built service (dist/apps/upload/src/main.js) in a process of its
// own on ports of its own, its output appended to a log file. A replica is stopped as an
// orchestrator would (SIGTERM, then wait for the exit) or killed (SIGKILL), and started again on the
// same ports; every exit is kept with how long it took and how it ended.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type WriteStream, createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Env } from '../support.ts';

// a boot on this busy 2-core machine has taken up to 36 s
const READY_TIMEOUT_MS = 120_000;

export interface ReplicaExit {
  readonly replica: string;
  // what the soak sent it
  readonly sent: 'SIGTERM' | 'SIGKILL';
  // its exit code, or the signal that ended it
  readonly ended: number | string;
  // seconds since the soak began, when the signal was sent
  readonly atSeconds: number;
  // from the signal to the exit
  readonly exitSeconds: number;
}

export class Replica {
  #child: ChildProcess | undefined;
  readonly #log: WriteStream;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Env,
    logFile: string,
  ) {
    this.#log = createWriteStream(logFile, { flags: 'a' });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  // Starts the process and waits until /readyz answers 200; returns the seconds that took.
  async start(): Promise<number> {
    const started = performance.now();
    const child = spawn(process.execPath, ['dist/apps/upload/src/main.js'], {
      env: { ...this.env, PORT: String(this.port), METRICS_PORT: String(this.port + 1) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#log.write(`--- ${new Date().toISOString()} started, pid ${child.pid}\n`);
    child.stdout.pipe(this.#log, { end: false });
    child.stderr.pipe(this.#log, { end: false });
    this.#child = child;
    for (;;) {
      if ((await fetch(`${this.url}/readyz`).catch(() => null))?.ok === true) {
        return (performance.now() - started) / 1000;
      }
      if (!this.running) {
        throw new Error(`${this.name} exited (${child.exitCode ?? child.signalCode}) before it was ready`);
      }
      if (performance.now() - started > READY_TIMEOUT_MS) {
        child.kill('SIGKILL');
        throw new Error(`${this.name} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
      }
      await sleep(100);
    }
  }

  // Sends the signal and waits for the process to end.
  async stop(sent: ReplicaExit['sent'], soakStarted: number): Promise<ReplicaExit> {
    const child = this.#child;
    if (child === undefined || !this.running) {
      throw new Error(`${this.name} is not running`);
    }
    const signalled = performance.now();
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill(sent);
    const [code, signal] = await exited;
    this.#log.write(`--- ${new Date().toISOString()} ${sent}: ended ${code ?? signal}\n`);
    return {
      replica: this.name,
      sent,
      ended: code ?? signal ?? 'unknown',
      atSeconds: (signalled - soakStarted) / 1000,
      exitSeconds: (performance.now() - signalled) / 1000,
    };
  }

  async close(): Promise<void> {
    if (this.running) {
      const exited = once(this.#child!, 'exit');
      this.#child!.kill('SIGKILL');
      await exited;
    }
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
