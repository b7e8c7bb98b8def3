// The service as a real process (the compiled main.js), for tests that signal it: SIGKILL
// mid-complete, SIGSTOP to freeze a worker past its lease, SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deadPorts } from './dead-port.ts';

// node's arguments that run the service: .out/test/support → .out/apps/upload/src/main.js; from
// source (a spec run with tools/register-sources.mjs), apps/upload/src/main.ts under the same loader
const HERE = path.dirname(fileURLToPath(import.meta.url));
const COMPILED = path.resolve(HERE, '../../apps/upload/src/main.js');
export const SERVICE_MAIN = existsSync(COMPILED)
  ? [COMPILED]
  : [
      '--import',
      path.resolve(HERE, '../../tools/register-sources.mjs'),
      path.resolve(HERE, '../../apps/upload/src/main.ts'),
    ];

export class ServiceProcess {
  // everything the process wrote to stdout and stderr
  output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly baseUrl: string,
    // GET /metrics, served on METRICS_PORT only
    readonly metricsUrl: string,
  ) {}

  // `unset`: variables of the test environment the process must not see, or 'all' for none of
  // them: the environment a newcomer's shell gives `npm start` (PATH and HOME only), plus `env`
  // (and NODE_V8_COVERAGE under npm run test:coverage, which configures Node, not the service)
  static async start(
    env: Readonly<Record<string, string>>,
    unset: readonly string[] | 'all' = [],
  ): Promise<ServiceProcess> {
    const [port, metricsPort] = (await deadPorts(2)) as [number, number];
    const inherited =
      unset === 'all'
        ? {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            ...(process.env.NODE_V8_COVERAGE === undefined ? {} : { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE }),
          }
        : {
            ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !unset.includes(name))),
            // node gives every child its own NODE_V8_COVERAGE unless the child's environment names
            // it: unset, it is named empty, which a node process takes as no coverage
            ...(unset.includes('NODE_V8_COVERAGE') ? { NODE_V8_COVERAGE: '' } : {}),
          };
    const child = spawn(process.execPath, SERVICE_MAIN, {
      env: { ...inherited, ...env, PORT: String(port), METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(child, `http://127.0.0.1:${port}`, `http://127.0.0.1:${metricsPort}/metrics`);
    const onData = (chunk: Buffer): void => {
      service.output += chunk.toString();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`service exited (${code ?? signal}) before it served:\n${service.output}`)),
      ),
    );
    exited.catch(() => undefined);
    // serving once /healthz answers, whatever LOG_LEVEL lets it print
    // a first embedded boot (initdb and the migrations in WebAssembly) takes 10-15 s here, more on a busy machine
    const deadline = Date.now() + 60_000;
    for (;;) {
      const up = await Promise.race([
        fetch(`${service.baseUrl}/healthz`).then(
          (response) => response.ok,
          () => false,
        ),
        exited,
      ]);
      if (up) {
        return service;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`service did not start:\n${service.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  // Waits for the process to end; returns its exit code or signal.
  async exited(): Promise<number | string> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return this.child.exitCode ?? this.child.signalCode!;
    }
    const [code, signal] = (await once(this.child, 'exit')) as [number | null, string | null];
    return code ?? signal!;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
      await this.exited();
    }
  }
}
