// Every wait on a dependency has a bound: storage frozen (a proxy that stops forwarding), a
// PostgreSQL lock held, Redis frozen, S3 answering 500/503 SlowDown, a connection cut mid-query.
// Each request answers 503/13000201 with Retry-After instead of waiting without bound, a
// completion interrupted that way gives its lease up at once, nothing is lost, and the service
// works again once the dependency does. The times are reported, not asserted (the machine is
// shared); the bound asserted is that an answer comes at all before a generous client timeout.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { FaultProxy, s3ErrorAnswer } from '../../tools/testing/fault-proxy.ts';
import type { ApiResponse, TestUser } from '../support/harness.ts';
import { MIB } from '@koodrive/limits';

const real = {
  s3: process.env.S3_ENDPOINT!,
  database: process.env.DATABASE_URL!,
  redis: process.env.REDIS_URL!,
};
const s3 = await FaultProxy.start(real.s3, { http: true });
const postgres = await FaultProxy.start(real.database);
const redis = await FaultProxy.start(real.redis);

const harness = await import('../support/harness.ts');
const { assertCompletedOnce } = await import('../support/promises.ts');

// the bounds under test, small so the suite is quick
const BOUNDS = {
  STORAGE_CONNECT_TIMEOUT_MS: '1000',
  STORAGE_IDLE_TIMEOUT_MS: '1500',
  DATABASE_STATEMENT_TIMEOUT_MS: '1000',
  DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
  REDIS_COMMAND_TIMEOUT_MS: '500',
};
// no answer by then counts as waiting without bound
const CLIENT_PATIENCE_MS = 30_000;
const app = harness.useTestApp({
  ...BOUNDS,
  S3_ENDPOINT: s3.url(real.s3),
  S3_PUBLIC_ENDPOINT: real.s3,
  DATABASE_URL: postgres.url(real.database),
  REDIS_URL: redis.url(real.redis),
  VERIFY_RETRIES: '1',
});

// A call that must answer: a 503 with Retry-After and 13000201, within the client's patience.
async function answersUnavailable(t: TestContext, what: string, call: () => Promise<ApiResponse>): Promise<void> {
  const started = performance.now();
  const answer = await Promise.race([
    call(),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer in ${CLIENT_PATIENCE_MS} ms`)), CLIENT_PATIENCE_MS).unref(),
    ),
  ]);
  t.diagnostic(`${what}: answered ${answer.status} in ${Math.round(performance.now() - started)} ms`);
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.code, 13000201);
  assert.equal(answer.headers.get('retry-after'), '5');
  assert.ok(answer.headers.get('x-traceid'), 'X-Traceid on a 503 too');
}

describe('dependencies that stall or fail', () => {
  let user: TestUser;

  before(async () => {
    user = await harness.newUser();
  });
  after(async () => {
    s3.thaw();
    postgres.thaw();
    redis.thaw();
    await Promise.all([s3.stop(), postgres.stop(), redis.stop()]);
  });

  const create = (length = 5 * MIB + 10) =>
    harness.call(app().baseUrl, 'create', { fileName: `s-${randomUUID()}.bin`, length }, { token: user.token });
  const complete = (fileId: string) => harness.call(app().baseUrl, 'complete', { fileId }, { token: user.token });

  it('storage frozen: create and complete answer 503 in time, the lease is given up, and all works after', async (t) => {
    const data = harness.testBytes(5 * MIB + 10, 95);
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.freeze();
    try {
      await answersUnavailable(t, 'create, storage frozen', () => create());
      await answersUnavailable(t, 'complete, storage frozen', () => complete(fileId));
      const row = await harness.fileRow(fileId);
      assert.equal(row.status, 'COMPLETING');
      assert.ok(row.claimExpiresAt! <= new Date(), 'the lease was given up at once');
    } finally {
      s3.thaw();
    }
    assert.equal((await create()).body.code, 0);
    const done = await complete(fileId);
    assert.equal(done.body.code, 0, JSON.stringify(done.body));
    await assertCompletedOnce(fileId, data);
  });

  it('storage answering 503 SlowDown or 500: retried once, then 503; all works after', async (t) => {
    s3.inject(() => true, s3ErrorAnswer(500, 'InternalError', 'We encountered an internal error.'), 1);
    assert.equal((await create()).body.code, 0, 'one 500 is retried by the client and not seen');
    s3.inject(() => true, s3ErrorAnswer(503, 'SlowDown', 'Please reduce your request rate.'), 100);
    try {
      await answersUnavailable(t, 'create, storage SlowDown', () => create());
    } finally {
      s3.clearFaults();
    }
    assert.equal((await create()).body.code, 0);
  });

  it('a PostgreSQL lock held on the file: complete answers 503 after the statement bound; all works after', async (t) => {
    const data = harness.testBytes(5 * MIB + 20, 96);
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = harness.testDb().$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT id FROM files WHERE id = ${fileId} FOR UPDATE`;
        locked();
        await released;
      },
      { timeout: 60_000 },
    );
    await isLocked;
    try {
      await answersUnavailable(t, 'complete, row locked', () => complete(fileId));
    } finally {
      release();
      await holder;
    }
    const done = await complete(fileId);
    assert.equal(done.body.code, 0, JSON.stringify(done.body));
    await assertCompletedOnce(fileId, data);
  });

  it('PostgreSQL frozen: answers 503 within the client-side bound; all works after', async (t) => {
    postgres.freeze();
    try {
      await answersUnavailable(t, 'create, PostgreSQL frozen', () => create());
    } finally {
      postgres.thaw();
    }
    // the connections that waited come back to the pool once their answers arrive
    await harness.until('PostgreSQL serves again', async () => ((await create()).body.code === 0 ? true : undefined));
  });

  it('Redis frozen: answers 503 after the command bound; all works after', async (t) => {
    redis.freeze();
    try {
      await answersUnavailable(t, 'create, Redis frozen', () => create());
    } finally {
      redis.thaw();
    }
    await harness.until('Redis serves again', async () => ((await create()).body.code === 0 ? true : undefined));
  });

  it('a connection cut mid-answer, to PostgreSQL and to Redis: an answer (503, or done on a retry), then all works', async (t) => {
    for (const [what, proxy, bytes] of [
      ['PostgreSQL', postgres, 5],
      ['Redis', redis, 1],
    ] as const) {
      let cut = false;
      proxy.cutAfterUpstreamBytes(bytes, () => (cut = true));
      const started = performance.now();
      const answer = await create();
      t.diagnostic(`create, ${what} cut: answered ${answer.status} in ${Math.round(performance.now() - started)} ms`);
      assert.ok(cut, `the ${what} connection was cut`);
      assert.ok(
        answer.body.code === 0 || (answer.status === 503 && answer.body.code === 13000201),
        JSON.stringify(answer.body),
      );
    }
    await harness.until('both serve again', async () => ((await create()).body.code === 0 ? true : undefined));
  });
});
