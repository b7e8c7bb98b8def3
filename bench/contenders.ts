// What the cost bench measures, each as a process of its own whose CPU time and memory are read
// from /proc: the built service (this tree's dist/, or another checkout's for a before/after) in
// its target configuration (traces over OTLP, logs at info) and quiet (no tracing, logs at warn),
// the floor (bench/floor.ts), and a bare Fastify (bench/bare-fastify.ts, for memory).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Env } from './support.ts';

const BENCH = import.meta.dirname;

export type ContenderName = 'traced' | 'quiet' | 'floor';

export const CONTENDER_LABELS: Readonly<Record<ContenderName, string>> = {
  traced: 'service, traces over OTLP, logs at info',
  quiet: 'service, tracing off, logs at warn',
  floor: 'floor (bench/floor.ts)',
};

export interface Contender {
  readonly name: ContenderName;
  // the checkout it runs: 'after' (this tree, or --service-root) or 'before' (--before-root)
  readonly side: 'before' | 'after';
  readonly label: string;
  // exports spans (the bench waits for its last export before reading its CPU)
  readonly traced: boolean;
  // starts it on `env` (its dependencies, PORT...), with `nodeArgs` for node (--cpu-prof...)
  start(env: Env, nodeArgs?: readonly string[]): Promise<ChildProcess>;
}

// the key the services sign their own part URLs with (32+ characters, as production requires)
const PART_URL_SECRET = randomBytes(24).toString('hex');

// `serviceRoot`: a checkout with a built service (dist/apps/upload/src/main.js); `otlpEndpoint`:
// where the traced service exports; `side`: which checkout of a before/after it is.
export function contender(
  name: ContenderName,
  serviceRoot: string,
  otlpEndpoint: string,
  side: Contender['side'] = 'after',
): Contender {
  if (name === 'floor') {
    return {
      name,
      side,
      label: CONTENDER_LABELS[name],
      traced: false,
      start: (env, nodeArgs = []) => startProcess(path.join(BENCH, 'floor.ts'), env, { nodeArgs }),
    };
  }
  const production: Env = { NODE_ENV: 'production', PART_URL_SECRET, SHUTDOWN_DRAIN_SECONDS: '0' };
  const imageFlags = nodeFlagsOf(serviceRoot);
  const own: Env =
    name === 'traced'
      ? { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, LOG_LEVEL: 'info' }
      : { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
  return {
    name,
    side,
    label: `${side}: ${CONTENDER_LABELS[name]}`,
    traced: name === 'traced',
    start: (env, nodeArgs = []) =>
      startProcess(
        path.join(serviceRoot, 'dist/apps/upload/src/main.js'),
        { ...env, ...production, PUBLIC_URL: `http://127.0.0.1:${env.PORT}`, ...own },
        {
          cwd: serviceRoot,
          nodeArgs: [...imageFlags, ...nodeArgs],
        },
      ),
  };
}

// The node flags the checkout's image starts the service with: its Dockerfile's CMD, between "node"
// and the script (none when it has no Dockerfile or no such CMD).
export function nodeFlagsOf(serviceRoot: string): string[] {
  let dockerfile: string;
  try {
    dockerfile = readFileSync(path.join(serviceRoot, 'Dockerfile'), 'utf8');
  } catch {
    return [];
  }
  const cmd = dockerfile
    .split('\n')
    .filter((line) => line.startsWith('CMD ['))
    .at(-1);
  const words = cmd === undefined ? [] : (JSON.parse(cmd.slice('CMD '.length)) as string[]);
  return words[0] === 'node' ? words.slice(1, -1) : [];
}

// Starts `script` with this node and waits until its /readyz (on env.PORT) answers 200. Its stdout
// (the service's logs) goes to /dev/null, as a collector would take it; stderr is shown.
export async function startProcess(
  script: string,
  env: Env,
  options: { cwd?: string; nodeArgs?: readonly string[] } = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script], {
    env,
    cwd: options.cwd,
    stdio: ['ignore', process.env.BENCH_SERVICE_LOGS === '1' ? 'inherit' : 'ignore', 'inherit'],
  });
  const readyz = `http://127.0.0.1:${env.PORT}/readyz`;
  for (let i = 0; ; i++) {
    if ((await fetch(readyz).catch(() => null))?.ok === true) {
      return child;
    }
    if (i > 300 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not become ready on port ${env.PORT} (is it built? are the services up?)`);
    }
    await sleep(100);
  }
}
