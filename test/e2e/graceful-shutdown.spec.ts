// SIGTERM to a real service process while a 256 MiB complete is in flight: readiness turns false
// at once, the server keeps serving through the drain, then refuses new connections, lets the
// complete finish (and record the file), and exits 0.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import * as harness from '../support/harness.ts';
import { assertCompletedOnce } from '../support/promises.ts';
import { ServiceProcess } from '../support/service-process.ts';

const realS3 = process.env.S3_ENDPOINT!;
const realDatabase = process.env.DATABASE_URL!;
const realRedis = process.env.REDIS_URL!;
const s3 = await FaultProxy.start(realS3, { http: true });
const postgres = await FaultProxy.start(realDatabase);
const redis = await FaultProxy.start(realRedis);
const LONG_BOUNDS = {
  STORAGE_IDLE_TIMEOUT_MS: '120000',
  STORAGE_REQUEST_TIMEOUT_MS: '120000',
  DATABASE_STATEMENT_TIMEOUT_MS: '120000',
  DATABASE_ACQUIRE_TIMEOUT_MS: '120000',
  REDIS_COMMAND_TIMEOUT_MS: '120000',
};
const DRAIN_SECONDS = 1;

describe('graceful shutdown', () => {
  let service: ServiceProcess | undefined;
  after(async () => {
    await service?.stop();
    await Promise.all([s3.stop(), postgres.stop(), redis.stop()]);
    await harness.closeTestRedis();
    await harness.closeTestDb();
  });

  it('on SIGTERM: not ready, drains, finishes the in-flight 256 MiB complete, records it, exits 0', async () => {
    service = await ServiceProcess.start({
      S3_ENDPOINT: s3.url(realS3),
      S3_PUBLIC_ENDPOINT: realS3,
      SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
      LOG_LEVEL: 'info',
    });
    const user = await harness.newUser();
    const data = harness.testBytes(256 * 1024 * 1024, 3);
    const { fileId } = await harness.upload(service.baseUrl, user, data, { partSize: 64 * 1024 * 1024 });

    // the complete is in flight: RGW has combined, the answer is held at the proxy
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let combined!: () => void;
    const isCombined = new Promise<void>((resolve) => (combined = resolve));
    s3.inject(s3Requests.complete(fileId), {
      kind: 'hold',
      release: released,
      onHeld: combined,
    });
    const completing = harness.call(service.baseUrl, 'complete', { fileId }, { token: user.token });
    await isCombined;

    service.signal('SIGTERM');
    // draining: still serving, but not ready (as soon as the signal is seen)
    const ready = await harness.until('readiness turns false', async () => {
      const answer = await fetch(`${service!.baseUrl}/readyz`);
      return answer.status === 503 ? answer : undefined;
    });
    assert.deepEqual(await ready.json(), { status: 'shutting down', checks: {} });
    assert.equal((await fetch(`${service.baseUrl}/healthz`)).status, 200);

    // past the drain the server is closing: no new connections, the complete still running
    await harness.until('the server stops accepting connections', () =>
      fetch(`${service!.baseUrl}/healthz`).then(
        () => undefined,
        () => true,
      ),
    );
    release();

    const answer = await completing;
    assert.equal(answer.body.code, 0);
    assert.equal(answer.body.sha256, harness.sha256Hex(data));
    assert.equal(await service.exited(), 0);
    assert.match(service.output, /closed: in-flight requests done/);
    await assertCompletedOnce(fileId, data);
  });

  // SIGTERM while a request waits on a frozen dependency (bounds far longer than the shutdown):
  // the process is gone SHUTDOWN_TIMEOUT_SECONDS after the signal, the drain included, plus the 1 s
  // the traces get, plus SLACK_MS; the request in flight is answered 503 first. The drain is set
  // so that a deadline counted after it, or the default SHUTDOWN_TIMEOUT_SECONDS (20), fails.
  const SHUTDOWN = { drainSeconds: 2, timeoutSeconds: 3 };
  const TRACE_FLUSH_MS = 1_000;
  const SLACK_MS = 1_000;
  for (const dependency of ['storage', 'PostgreSQL', 'Redis'] as const) {
    it(`exits within SHUTDOWN_TIMEOUT_SECONDS of SIGTERM with ${dependency} frozen, answering the request in flight 503`, async (t) => {
      const proxy = dependency === 'storage' ? s3 : dependency === 'PostgreSQL' ? postgres : redis;
      service = await ServiceProcess.start({
        S3_ENDPOINT: s3.url(realS3),
        S3_PUBLIC_ENDPOINT: realS3,
        DATABASE_URL: postgres.url(realDatabase),
        REDIS_URL: redis.url(realRedis),
        SHUTDOWN_DRAIN_SECONDS: String(SHUTDOWN.drainSeconds),
        SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN.timeoutSeconds),
        // the request would wait on its dependency far longer than the shutdown may take
        ...LONG_BOUNDS,
        LOG_LEVEL: 'info',
      });
      const user = await harness.newUser();
      proxy.freeze();
      try {
        const creating = harness.call(
          service.baseUrl,
          'create',
          { fileName: 'frozen.bin', length: 10 },
          { token: user.token },
        );
        // the create's steps before the frozen one (the session from Redis, its statements) take
        // milliseconds; then it waits on the frozen dependency for as long as LONG_BOUNDS let it
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const signalled = performance.now();
        service.signal('SIGTERM');
        const answer = await creating;
        assert.equal(answer.status, 503);
        assert.equal(answer.body.code, 13000201);
        assert.equal(answer.headers.get('retry-after'), '5');
        assert.ok(answer.headers.get('x-traceid'));
        assert.notEqual(await service.exited(), 0, 'ended by the deadline, not cleanly');
        const tookMs = Math.round(performance.now() - signalled);
        const boundMs = SHUTDOWN.timeoutSeconds * 1000 + TRACE_FLUSH_MS;
        t.diagnostic(`exited ${tookMs} ms after SIGTERM (bound ${boundMs} ms + ${SLACK_MS} ms)`);
        assert.ok(tookMs <= boundMs + SLACK_MS, `exited ${tookMs} ms after SIGTERM`);
        assert.match(service.output, /shutdown deadline: 1 unfinished request\(s\) answered 503/);
      } finally {
        proxy.thaw();
      }
    });
  }
});
