// The docs kept true by the code (issue 24, item 1):
// - docs/configuration.md lists exactly the variables the config loader reads. What it reads is
//   taken from the loader itself, run against an environment that records every name asked of it,
//   so no list is kept by hand;
// - the README's sample boot output is what `npm start` prints, run as a newcomer runs it.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '@koodrive/config';
import { deadPort } from '../support/dead-port.ts';

// the repository: above this file, from source (test/e2e) or compiled (.out/test/e2e)
function repositoryRoot(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'README.md'))) {
      return dir;
    }
    assert.notEqual(path.dirname(dir), dir, 'no repository above this spec');
  }
}

const ROOT = repositoryRoot();

// Every variable loadConfig asks of `env`, whatever it does with the answer.
function variablesRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') {
        read.add(name);
      }
      return target[name as string];
    },
    has(target, name) {
      if (typeof name === 'string') {
        read.add(name);
      }
      return name in target;
    },
    ownKeys() {
      throw new Error('the config loader lists the environment: it must name each variable it reads');
    },
  });
  try {
    loadConfig(recording);
  } catch {
    // an environment the loader refuses (production with nothing set) was still read whole
  }
  return read;
}

// The variables docs/configuration.md's service tables list: the first cell of every row of the
// tables headed `| variable | default | meaning |` (the tools' tables have other headings).
function variablesDocumented(): Set<string> {
  const lines = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8').split('\n');
  const names = new Set<string>();
  let inTable = false;
  for (const line of lines) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (/^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|$/.test(line.trim())) {
      inTable = true;
    } else if (!line.startsWith('|')) {
      inTable = false;
    } else if (inTable && !/^[\s|:-]+$/.test(line)) {
      for (const match of (cells[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) {
        names.add(match[1]!);
      }
    }
  }
  return names;
}

describe('docs/configuration.md', () => {
  it('lists every variable the config loader reads, and only those', () => {
    // the branches the loader takes by environment: a local run, production, the tests'
    const environments: Record<string, string>[] = [{}, { NODE_ENV: 'production' }, { NODE_ENV: 'test' }];
    const read = new Set(environments.flatMap((env) => [...variablesRead(env)]));
    // the recorder sees reads: a loader that read nothing would make this test pass vacuously
    assert.ok(read.has('PORT') && read.has('DATABASE_URL'), `the recorder saw: ${[...read].join(', ')}`);
    const documented = variablesDocumented();
    const missing = [...read].filter((name) => !documented.has(name)).sort();
    const notRead = [...documented].filter((name) => !read.has(name)).sort();
    assert.deepEqual(missing, [], `read by libs/config but not in docs/configuration.md: ${missing.join(', ')}`);
    assert.deepEqual(notRead, [], `in docs/configuration.md but not read by libs/config: ${notRead.join(', ')}`);
  });
});

// The README's sample boot output: the first ``` block after the line that introduces it.
function readmeBootBlock(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const match = /says which parts are embedded[\s\S]*?\n```\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(match, "the README's sample boot output (the block after 'says which parts are embedded')");
  return match[1]!.split('\n');
}

// What varies from run to run, the same way on both sides; nothing else is touched:
// - a JSON log line keeps its level, context and message, shown as the README shows them (time,
//   pid and hostname are the run's);
// - the ports (this run's own PORT and METRICS_PORT; the README shows the defaults);
// - the data directory's path up to .data (a temporary directory here; the README shows a clone's);
// - the demo token (fresh at every boot);
// - blank lines.
// The plain lines (process.stdout: npm's banner, KOODRIVE_TOKEN, KOODRIVE_UPLOAD_PAGE) and the JSON
// lines (pino, written asynchronously) interleave as the event loop runs: each kind keeps its order
// and is compared in it; how the two interleave is not.
function normalize(
  lines: readonly string[],
  ports: { port: string; metricsPort: string },
): { plain: string[]; json: string[] } {
  const plain: string[] = [];
  const json: string[] = [];
  for (const raw of lines) {
    const line = raw
      .replaceAll(`127.0.0.1:${ports.port}`, '127.0.0.1:<PORT>')
      .replaceAll(`127.0.0.1:${ports.metricsPort}`, '127.0.0.1:<METRICS_PORT>')
      .replace(/(\/[^\s"]*)?\/\.data\//g, '<DATA_DIR>/')
      .replace(/(KOODRIVE_TOKEN=|#token=)[A-Za-z0-9_-]{43}/g, '$1<TOKEN>');
    if (line.trim() === '') {
      continue;
    }
    if (line.startsWith('{')) {
      json.push(jsonShape(line));
    } else {
      plain.push(line);
    }
  }
  return { plain, json };
}

// {"level":30,...,"context":"Main","msg":"..."}, from a real line or from the README's
function jsonShape(line: string): string {
  if (line.includes(',...,')) {
    return line;
  }
  const { level, context, msg } = JSON.parse(line) as { level: number; context: string; msg: string };
  return `{"level":${level},...,"context":${JSON.stringify(context)},"msg":${JSON.stringify(msg)}}`;
}

// a fresh clone's first boot (initdb in WebAssembly) on a busy 2-core machine stays well within this
const BOOT_BOUND_MS = 240_000;

describe("the README's sample boot output", () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGKILL');
    }
    if (dir !== undefined) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is what `npm start` prints (the embedded defaults, ports of its own)', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'koodrive-readme-'));
    const ports = { port: String(await deadPort()), metricsPort: String(await deadPort()) };
    const expected = normalize(readmeBootBlock(), { port: '3000', metricsPort: '9464' });
    // a newcomer's shell: nothing configured but the two ports the README's Quickstart exports (and
    // a data directory of its own, not the clone's .data); coverage's variable when c8 runs this
    child = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: ports.port,
        METRICS_PORT: ports.metricsPort,
        DATA_DIR: path.join(dir, '.data'),
        ...(process.env.NODE_V8_COVERAGE === undefined ? {} : { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ended = once(child, 'exit');
    // booted: as many lines of each kind as the README shows (its last ones are the last of a boot)
    const deadline = Date.now() + BOOT_BOUND_MS;
    for (;;) {
      const seen = normalize(output.split('\n').slice(0, -1), ports);
      if (seen.plain.length >= expected.plain.length && seen.json.length >= expected.json.length) {
        break;
      }
      assert.ok(child.exitCode === null, `npm start ended (${child.exitCode}) before it booted:\n${output}`);
      assert.ok(Date.now() < deadline, `npm start did not boot within ${BOOT_BOUND_MS} ms:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Ctrl-C, as in a terminal: the whole process group; what came before it is the boot
    process.kill(-child.pid!, 'SIGINT');
    await ended;
    const lines = output.split('\n');
    const stop = lines.findIndex((line) => line.includes('SIGINT'));
    const actual = normalize(stop === -1 ? lines : lines.slice(0, stop), ports);
    assert.deepEqual(actual.plain, expected.plain, `plain lines of npm start:\n${output}`);
    assert.deepEqual(actual.json, expected.json, `log lines of npm start:\n${output}`);
  });
});
