// The test matrix: one suite of the upload flow, run against the real set (PostgreSQL, Redis,
// Ceph RGW) and against the embedded defaults (PGlite, the local-disk store, sessions in process,
// console traces), each as the built service in its own process. The embedded one is started with
// no DATABASE_URL, REDIS_URL, S3_ENDPOINT or OTLP endpoint at all, as `npm start` on a fresh clone.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  call,
  closeTestDb,
  closeTestRedis,
  hashCtxAt,
  newUser,
  sha256Hex,
  testBytes,
  type TestUser,
  until,
  upload,
} from '../support/harness.ts';
import { PGlite } from '@electric-sql/pglite';
import { ServiceProcess } from '../support/service-process.ts';

async function metricsOf(service: ServiceProcess): Promise<string> {
  return (await fetch(service.metricsUrl)).text();
}
import { MIB } from '@koodrive/limits';

const CLIENT = fileURLToPath(new URL('../../apps/client/src/main.js', import.meta.url));

interface Stack {
  readonly name: string;
  // `user`: keep this user (the real stack's sessions outlive the process; the embedded one's demo
  // user is the same user under a new token)
  start(user?: TestUser): Promise<{ service: ServiceProcess; user: TestUser }>;
  cleanUp(): Promise<void>;
}

function demoToken(output: string): string {
  const match = /^KOODRIVE_TOKEN=([A-Za-z0-9_-]+)$/m.exec(output);
  assert.ok(match !== null, `the boot printed no KOODRIVE_TOKEN line:\n${output}`);
  return match[1]!;
}

const embeddedDir = await mkdtemp(path.join(tmpdir(), 'koodrive-embedded-'));

const STACKS: Stack[] = [
  {
    name: 'real (PostgreSQL, Redis, Ceph RGW)',
    start: async (user) => ({
      service: await ServiceProcess.start({
        PART_URL_SECRET: 'a-test-secret-of-at-least-32-chars!!',
        LOG_LEVEL: 'info',
      }),
      user: user ?? (await newUser()),
    }),
    cleanUp: async () => {
      await closeTestRedis();
      await closeTestDb();
    },
  },
  {
    name: 'embedded (PGlite, local disk, in process)',
    start: async () => {
      // a newcomer's `npm start`: nothing of the test environment, the service's own defaults
      const service = await ServiceProcess.start({ DATA_DIR: embeddedDir }, 'all');
      await waitFor(() => /^KOODRIVE_TOKEN=/m.test(service.output));
      return { service, user: { userId: 'demo', containerId: 'demo', token: demoToken(service.output) } };
    },
    cleanUp: () => rm(embeddedDir, { recursive: true, force: true }),
  },
];

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const stack of STACKS) {
  describe(`the upload flow on the ${stack.name} stack`, () => {
    let service: ServiceProcess;
    let user: TestUser;
    const complete = (fileId: string, sha256?: string, token = user.token) =>
      call(service.baseUrl, 'complete', { fileId, sha256 }, { token });

    before(async () => {
      ({ service, user } = await stack.start());
    });
    after(async () => {
      await service.stop();
      await stack.cleanUp();
    });

    it('uploads a file in parallel mode and completes it with the digest of node:crypto, idempotently', async () => {
      const data = testBytes(2 * 5 * MIB + 333, 41);
      const { fileId } = await upload(service.baseUrl, user, data, { parallel: true, concurrent: true });
      const first = await complete(fileId, sha256Hex(data));
      assert.equal(first.body.code, 0, JSON.stringify(first.body));
      assert.equal(first.body.sha256, sha256Hex(data));
      const again = await complete(fileId);
      assert.equal(again.body.code, 0);
      assert.equal(again.body.sha256, sha256Hex(data));
    });

    it('uploads a file without hashCtx (read back to verify)', async () => {
      const data = testBytes(5 * MIB + 1, 42);
      const { fileId } = await upload(service.baseUrl, user, data);
      const answer = await complete(fileId);
      assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
      assert.equal(answer.body.sha256, sha256Hex(data));
    });

    it('names a missing part, keeps the task open, and completes once it is there', async () => {
      const data = testBytes(2 * 5 * MIB, 43);
      const { fileId, parts } = await upload(service.baseUrl, user, data, { parallel: true, skipParts: [1] });
      const missing = await complete(fileId);
      assert.equal(missing.body.code, 13000402);
      assert.match(missing.body.msg, /missing parts: 1/);
      const part1 = parts.find((p) => p.partNumber === 1)!;
      const put = await fetch(part1.uploadUrl, { method: 'PUT', body: data.subarray(0, 5 * MIB) });
      assert.equal(put.status, 200);
      assert.equal((await complete(fileId)).body.code, 0);
    });

    it('fails a file whose bytes are not the declared digest', async () => {
      const data = testBytes(5 * MIB + 7, 44);
      const { fileId } = await upload(service.baseUrl, user, data, { sha256: 'ab'.repeat(32) });
      const answer = await complete(fileId);
      assert.equal(answer.body.code, 13000402);
      assert.equal((await complete(fileId)).body.code, 13000402, 'for good');
    });

    it('refuses a bad token, an unknown file and a wrong hashCtx chain with the contract codes', async () => {
      const denied = await call(
        service.baseUrl,
        'complete',
        { fileId: 'Fi0123456789abcdefghijABCDEFGHIJk' },
        {
          token: 'not-a-token',
        },
      );
      assert.equal(denied.status, 401);
      assert.equal(denied.body.code, 13000901);
      assert.equal((await complete('Fi0123456789abcdefghijABCDEFGHIJk')).body.code, 13000401);

      const data = testBytes(5 * MIB + 64, 45);
      const [, second] = hashCtxAt(data, 5 * MIB);
      const created = await call(
        service.baseUrl,
        'create',
        { fileName: `x-${Date.now()}`, length: data.length },
        {
          token: user.token,
        },
      );
      const fileId = created.body.fileId as string;
      // part 2 claims to start after 5 MiB of other bytes: the chain breaks at part 2
      const other = hashCtxAt(testBytes(5 * MIB + 64, 46), 5 * MIB)[1]!;
      assert.notEqual(other, second);
      const urls = await call(
        service.baseUrl,
        'multipart/uploadUrl',
        {
          fileId,
          multiParts: [
            { partNumber: 1, partSize: 5 * MIB, partOffset: 0 },
            { partNumber: 2, partSize: 64, hashCtx: other },
          ],
        },
        { token: user.token },
      );
      for (const part of urls.body.multiParts as { partOffset: number; partSize: number; uploadUrl: string }[]) {
        const put = await fetch(part.uploadUrl, {
          method: 'PUT',
          body: data.subarray(part.partOffset, part.partOffset + part.partSize),
        });
        assert.equal(put.status, 200);
      }
      const answer = await complete(fileId);
      assert.equal(answer.body.code, 13000402);
      assert.match(answer.body.msg, /part 2/);
    });

    it('takes an upload from the KooDrive client (npm run client -- put)', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-client-'));
      try {
        const file = path.join(dir, 'report.bin');
        const data = testBytes(11 * MIB + 5, 49);
        await writeFile(file, data);
        const child = spawn(process.execPath, [CLIENT, 'put', file, '--part-size', '5MiB'], {
          env: { ...process.env, KOODRIVE_URL: service.baseUrl, KOODRIVE_TOKEN: user.token },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        const [exitCode] = (await once(child, 'exit')) as [number | null];
        assert.equal(exitCode, 0, stdout);
        assert.match(stdout, /^code: 0$/m);
        assert.match(stdout, new RegExp(`^sha256: ${sha256Hex(data)}$`, 'm'));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('keeps what it recorded across a restart', async () => {
      const data = testBytes(5 * MIB + 9, 47);
      const { fileId } = await upload(service.baseUrl, user, data, { parallel: true });
      assert.equal((await complete(fileId)).body.code, 0);
      service.signal('SIGTERM');
      assert.equal(await service.exited(), 0);
      ({ service, user } = await stack.start(user));
      const answer = await complete(fileId);
      assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
      assert.equal(answer.body.sha256, sha256Hex(data));
    });
  });
}

describe('the embedded stack at boot', () => {
  it('says which parts are embedded, one line each, and prints the demo token once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-boot-'));
    const service = await ServiceProcess.start({ DATA_DIR: dir }, 'all');
    try {
      await waitFor(() => /^KOODRIVE_TOKEN=/m.test(service.output));
      for (const unset of ['DATABASE_URL', 'S3_ENDPOINT', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
        const lines = service.output.split('\n').filter((line) => line.includes(`${unset} unset`));
        assert.equal(lines.length, 1, `one boot line for ${unset}:\n${service.output}`);
      }
      assert.equal(service.output.match(/KOODRIVE_TOKEN=/g)?.length, 1);
      // a request's trace is printed as a compact tree
      const token = demoToken(service.output);
      const data = testBytes(64, 48);
      const { fileId } = await upload(service.baseUrl, { userId: 'demo', containerId: 'demo', token }, data);
      assert.equal((await call(service.baseUrl, 'complete', { fileId }, { token })).body.code, 0);
      await waitFor(() => /^trace [0-9a-f]{16} POST \/koodrive\/ose\/v1\/files\/complete/m.test(service.output));
      assert.match(service.output, /^\s+koodrive\.complete \d/m);
      assert.doesNotMatch(service.output, /outbox-relay/, 'background runs are not printed');
      // the part PUTs were logged, their URLs' signatures not
      assert.match(
        service.output,
        /"PUT \/koodrive\/ose\/v1\/files\/multipart\/parts\/[^"]*signature=\[redacted\] 200"/,
      );
      assert.doesNotMatch(service.output, /signature=[0-9a-f]/);
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs its outbox relay and reaper: an event goes out, an overdue task is expired and its upload freed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-jobs-'));
    let service = await ServiceProcess.start({ DATA_DIR: dir, DEMO_TOKEN: 'embedded-jobs-token-0001' }, 'all');
    const user = { userId: 'demo', containerId: 'demo', token: 'embedded-jobs-token-0001' };
    try {
      // the relay, on its default interval, publishes the completion's event
      const { fileId } = await upload(service.baseUrl, user, testBytes(100, 49));
      assert.equal((await call(service.baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
      await until('the relay published the event', async () =>
        /koodrive_maintenance_actions_total\{task="outbox-relay",action="published"\} [1-9]/.test(
          await metricsOf(service),
        )
          ? true
          : undefined,
      );
      // an upload left open, overdue by the database's clock while the service is down
      const open = await upload(service.baseUrl, user, testBytes(100, 50), { skipParts: [1] });
      await service.stop();
      const db = await PGlite.create({ dataDir: path.join(dir, 'pg') });
      await db.query("UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1", [open.fileId]);
      await db.close();
      service = await ServiceProcess.start(
        { DATA_DIR: dir, DEMO_TOKEN: user.token, REAP_INTERVAL_SECONDS: '1' },
        'all',
      );
      await until('the reaper expired the task and aborted its upload', async () => {
        const metrics = await metricsOf(service);
        return /task="reap",action="expired"\} [1-9]/.test(metrics) &&
          /task="reap",action="freed"\} [1-9]/.test(metrics)
          ? true
          : undefined;
      });
      assert.equal(
        (await call(service.baseUrl, 'complete', { fileId: open.fileId }, { token: user.token })).body.code,
        13000401,
      );
      // nothing of its upload is left on disk
      assert.deepEqual(await readdir(path.join(dir, 'objects', '.uploads')), []);
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
