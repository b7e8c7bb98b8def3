// Errors that name their cause (issue 24, item 2), on real service processes: a taken PORT or
// METRICS_PORT ends the boot with one line naming the variable and the port; a bad configuration
// prints its problems once, without a stack, and exits 1; an unknown route answers 404 / 13000101
// naming its method and path; GET / points at /upload, /docs and the README outside production and
// is an unknown route in production; and in embedded mode Ctrl-C stops at once, with no drain.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deadPort } from '../support/dead-port.ts';
import { SERVICE_MAIN, ServiceProcess } from '../support/service-process.ts';

// A boot that is expected to fail: the process's exit code and what it wrote, each stream apart.
interface FailedBoot {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// a failing boot ends within this; a process still running then is killed and the test fails
const FAILED_BOOT_BOUND_MS = 60_000;

function bootExpectingFailure(env: Readonly<Record<string, string>>): Promise<FailedBoot> {
  const child = spawn(process.execPath, SERVICE_MAIN, {
    // the environment of a shell with nothing configured (embedded), plus `env`
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), FAILED_BOOT_BOUND_MS);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

// the embedded service's drain, were it behind a load balancer: Ctrl-C must not wait it out
const DRAIN_SECONDS = 30;

// a stack trace's frame, as node prints one
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

describe('errors that name their cause', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'koodrive-boot-errors-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const variable of ['PORT', 'METRICS_PORT'] as const) {
    it(`a taken ${variable} ends the boot naming ${variable} and the port, exit 1, no stack`, async () => {
      const taken = await listening();
      try {
        const other = await deadPort();
        const ports =
          variable === 'PORT' ? { PORT: taken.port, METRICS_PORT: other } : { PORT: other, METRICS_PORT: taken.port };
        const boot = await bootExpectingFailure({
          PORT: String(ports.PORT),
          METRICS_PORT: String(ports.METRICS_PORT),
          DATA_DIR: path.join(dir, '.data'),
        });
        assert.equal(boot.code, 1, boot.stdout + boot.stderr);
        assert.equal(
          boot.stderr,
          `koodrive-upload: ${variable} ${taken.port} is already in use on 127.0.0.1 (EADDRINUSE): ` +
            `stop what listens there or set ${variable} to a free port\n`,
        );
        assert.doesNotMatch(boot.stdout + boot.stderr, STACK_FRAME);
      } finally {
        taken.server.close();
      }
    });
  }

  it('a bad configuration prints every problem once, on stderr, without a stack, and exits 1', async () => {
    const boot = await bootExpectingFailure({ PORT: 'eighty', METRICS_PORT: '3000', LOG_LEVEL: 'loud' });
    assert.equal(boot.code, 1);
    assert.equal(boot.stdout, '');
    assert.equal(
      boot.stderr,
      [
        'koodrive-upload: Invalid configuration:',
        '  - PORT must be an integer from 0 to 65535, got "eighty"',
        "  - METRICS_PORT must differ from PORT (3000): /metrics is not served on the API's port",
        '  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"',
        '',
      ].join('\n'),
    );
  });

  describe('a running service outside production', () => {
    let service: ServiceProcess;
    before(async () => {
      // a drain it would wait out were it behind a load balancer (the last test signals it)
      service = await ServiceProcess.start(
        {
          DATA_DIR: path.join(dir, '.data'),
          SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
          SHUTDOWN_TIMEOUT_SECONDS: String(2 * DRAIN_SECONDS),
        },
        'all',
      );
    });
    after(async () => {
      await service.stop();
    });

    it('answers an unknown route 404 / 13000101 naming its method and path (never its query)', async () => {
      const post = await fetch(`${service.baseUrl}/koodrive/ose/v1/file/create?signature=0123abcd`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(post.status, 404);
      assert.deepEqual(await post.json(), {
        code: 13000101,
        msg: 'Request error. No route for POST /koodrive/ose/v1/file/create.',
      });
      const get = await fetch(`${service.baseUrl}/nothing/here`);
      assert.equal(get.status, 404);
      assert.equal(((await get.json()) as { msg: string }).msg, 'Request error. No route for GET /nothing/here.');
    });

    it('answers GET / with a short JSON pointing at /upload, /docs and the README', async () => {
      const answer = await fetch(`${service.baseUrl}/`);
      assert.equal(answer.status, 200);
      const body = (await answer.json()) as Record<string, string>;
      assert.equal(body.service, 'koodrive-upload');
      assert.match(body.upload!, /^\/upload\b/);
      assert.match(body.docs!, /^\/docs\b/);
      assert.match(body.readme!, /README\.md/);
      // and the places it names are there
      assert.equal((await fetch(`${service.baseUrl}/docs`)).status, 200);
    });

    it('stops at once on SIGINT in embedded mode: no drain, exit 0', async () => {
      const signalled = Date.now();
      service.signal('SIGINT');
      assert.equal(await service.exited(), 0, service.output);
      const tookMs = Date.now() - signalled;
      assert.ok(
        tookMs < DRAIN_SECONDS * 1000,
        `exited ${tookMs} ms after SIGINT, not within the ${DRAIN_SECONDS} s drain`,
      );
      assert.match(service.output, /"msg":"SIGINT: closing"/);
      assert.doesNotMatch(service.output, /closing in \d+ s/);
    });
  });

  it('in production, GET / is an unknown route like any other', async () => {
    const production = await ServiceProcess.start({
      NODE_ENV: 'production',
      PART_URL_SECRET: 'boot-errors-part-url-secret-0123456789abcdef',
      PUBLIC_URL: 'https://upload.koodrive.example.com',
    });
    try {
      const answer = await fetch(`${production.baseUrl}/`);
      assert.equal(answer.status, 404);
      assert.deepEqual(await answer.json(), { code: 13000101, msg: 'Request error. No route for GET /.' });
    } finally {
      await production.stop();
    }
  });
});
