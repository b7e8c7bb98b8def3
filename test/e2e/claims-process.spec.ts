// README claims about a real service process: /readyz answers 200 {"status":"ok"} while
// PostgreSQL, Redis and the bucket answer, and 503 naming the one that does not (the process
// reaches them through fault proxies, stopped here as the dependency's process would be); and
// SIGINT behaves as SIGTERM: readiness false at once, served through the drain, the in-flight
// complete finished and recorded, exit 0.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import * as harness from '../support/harness.ts';
import { assertCompletedOnce } from '../support/promises.ts';
import { ServiceProcess } from '../support/service-process.ts';

const real = {
  s3: process.env.S3_ENDPOINT!,
  database: process.env.DATABASE_URL!,
  redis: process.env.REDIS_URL!,
};
const s3 = await FaultProxy.start(real.s3, { http: true });
const postgres = await FaultProxy.start(real.database);
const redis = await FaultProxy.start(real.redis);

const ALL_OK = { database: 'ok', redis: 'ok', storage: 'ok' };

describe('README claims: readiness and SIGINT, on a real process', () => {
  let service: ServiceProcess;

  const readyz = async (): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${service.baseUrl}/readyz`);
    return { status: response.status, body: await response.json() };
  };
  // the answer /readyz settles on (a dependency's loss or return is seen within a probe or two)
  const readyzUntil = (what: string, status: number, checks: Record<string, string>) =>
    harness.until(what, async () => {
      const answer = await readyz();
      return answer.status === status && JSON.stringify(answer.body).includes(JSON.stringify(checks))
        ? answer
        : undefined;
    });

  after(async () => {
    await service?.stop();
    await Promise.all([s3.stop(), postgres.stop(), redis.stop()]);
    await harness.closeTestRedis();
    await harness.closeTestDb();
  });

  it('/readyz: 200 {"status":"ok"} with every dependency up; 503 naming the database, then redis, when down', async () => {
    service = await ServiceProcess.start({
      S3_ENDPOINT: s3.url(real.s3),
      S3_PUBLIC_ENDPOINT: real.s3,
      DATABASE_URL: postgres.url(real.database),
      REDIS_URL: redis.url(real.redis),
      SHUTDOWN_DRAIN_SECONDS: '1',
      LOG_LEVEL: 'info',
    });
    assert.deepEqual(await readyz(), { status: 200, body: { status: 'ok', checks: ALL_OK } });

    await postgres.stop();
    const noDatabase = await readyzUntil('readiness names the database', 503, { ...ALL_OK, database: 'unavailable' });
    assert.deepEqual(noDatabase.body, { status: 'unavailable', checks: { ...ALL_OK, database: 'unavailable' } });
    await postgres.start();
    await readyzUntil('ready again with the database back', 200, ALL_OK);

    await redis.stop();
    const noRedis = await readyzUntil('readiness names redis', 503, { ...ALL_OK, redis: 'unavailable' });
    assert.deepEqual(noRedis.body, { status: 'unavailable', checks: { ...ALL_OK, redis: 'unavailable' } });
    await redis.start();
    const back = await readyzUntil('ready again with redis back', 200, ALL_OK);
    assert.deepEqual(back.body, { status: 'ok', checks: ALL_OK });
  });

  it('on SIGINT, as on SIGTERM: not ready at once, serves through the drain, finishes the in-flight complete, exits 0', async () => {
    const user = await harness.newUser();
    const data = harness.testBytes(64 * 1024, 601);
    const { fileId } = await harness.upload(service.baseUrl, user, data);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let combined!: () => void;
    const isCombined = new Promise<void>((resolve) => (combined = resolve));
    s3.inject(s3Requests.complete(fileId), { kind: 'hold', release: released, onHeld: combined });
    const completing = harness.call(service.baseUrl, 'complete', { fileId }, { token: user.token });
    await isCombined;

    service.signal('SIGINT');
    const draining = await harness.until('readiness turns false', async () => {
      const answer = await readyz();
      return answer.status === 503 ? answer : undefined;
    });
    assert.deepEqual(draining.body, { status: 'shutting down', checks: {} });
    assert.equal((await fetch(`${service.baseUrl}/healthz`)).status, 200, 'still serving while draining');
    await harness.until('the signal is logged', () =>
      Promise.resolve(/SIGINT: not ready; closing in 1 s/.test(service.output) || undefined),
    );
    // past the drain: no new connections, while the complete is still in flight
    await harness.until('the server stops accepting connections', () =>
      fetch(`${service.baseUrl}/healthz`, { headers: { connection: 'close' } }).then(
        () => undefined,
        () => true,
      ),
    );
    assert.equal(service.child.exitCode, null, 'waiting for the in-flight complete');
    release();
    const answer = await completing;
    assert.equal(answer.body.code, 0);
    assert.equal(answer.headers.get('connection'), 'close');
    assert.equal(await service.exited(), 0);
    await harness.until('the clean close is logged', () =>
      Promise.resolve(/closed: in-flight requests done/.test(service.output) || undefined),
    );
    await assertCompletedOnce(fileId, data);
  });
});
