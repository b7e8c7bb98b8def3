// PostgreSQL and Redis really stopped and restarted while a complete is in flight: a PostgreSQL
// and a Redis of this test's own (test/support/private-servers), the shared RGW behind the fault
// proxy only to hold the combine's answer until the server is down.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '@koodrive/config';
import { PrismaService } from '@koodrive/database';
import { migrate } from '../../tools/db/migrate.ts';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import type { ApiResponse, TestUser } from '../support/harness.ts';
import { PrivatePostgres, PrivateRedis } from '../support/private-servers.ts';

const realS3 = process.env.S3_ENDPOINT!;
const s3 = await FaultProxy.start(realS3, { http: true });
const postgres = await PrivatePostgres.create();
const redisServer = await PrivateRedis.create();
await migrate(postgres.url);

const harness = await import('../support/harness.ts');
const { assertCompletedOnce } = await import('../support/promises.ts');
const { OutboxRelayService } = await import('../../apps/upload/src/maintenance/outbox-relay.service.ts');

const LEASE_SECONDS = 2;
const app = harness.useTestApp({
  DATABASE_URL: postgres.url,
  REDIS_URL: redisServer.url,
  S3_ENDPOINT: s3.url(realS3),
  S3_PUBLIC_ENDPOINT: realS3,
  COMPLETE_LEASE_SECONDS: String(LEASE_SECONDS),
  // the single streamed GET, which has no retry of its own (faults.spec cuts the ranged read-back)
  VERIFY_WINDOW: '0',
});

const completeOf = s3Requests.complete;

describe('PostgreSQL and Redis restarted mid-request', () => {
  const db = new PrismaService(loadConfig(process.env), { url: postgres.url, poolSize: 2 });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // down on purpose for a while
  const data = harness.testBytes(5 * 1024 * 1024 + 100, 21);
  let user: TestUser;
  const complete = (fileId: string) => harness.call(app().baseUrl, 'complete', { fileId }, { token: user.token });

  // Starts a complete and answers once RGW has combined the parts but before the service heard it.
  async function completeHeldAtCombine(fileId: string): Promise<{ answer: Promise<ApiResponse>; release: () => void }> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let combined!: () => void;
    const isCombined = new Promise<void>((resolve) => (combined = resolve));
    s3.inject(completeOf(fileId), { kind: 'hold', release: released, onHeld: combined });
    const answer = complete(fileId);
    await isCombined;
    return { answer, release };
  }

  before(async () => {
    user = await harness.newUser(undefined, redis);
  });
  after(async () => {
    await db.close();
    redis.disconnect();
    await s3.stop();
    await Promise.all([postgres.destroy(), redisServer.destroy()]);
  });

  it('PostgreSQL restarted after the combine: 503 while it is down, then a retry completes the file once', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    const held = await completeHeldAtCombine(fileId);
    await postgres.stop();
    held.release();
    const answer = await held.answer;
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 13000201);
    assert.equal(answer.headers.get('retry-after'), '5');
    assert.equal((await complete(fileId)).status, 503);
    await postgres.start();
    await harness.until('a retry completes the file', async () =>
      (await complete(fileId)).body.code === 0 ? true : undefined,
    );
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data, db);
  });

  it('Redis restarted mid-complete: the complete succeeds, new requests get 503, the event goes out after', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    const held = await completeHeldAtCombine(fileId);
    await redisServer.stop();
    held.release();
    const answer = await held.answer;
    assert.equal(answer.body.code, 0);
    await assertCompletedOnce(fileId, data, db);
    const refused = await complete(fileId);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 13000201);
    const relay = app().app.get(OutboxRelayService);
    await assert.rejects(relay.relay());
    await redisServer.start();
    // the session survived the restart (append-only file); the service reconnects by itself
    await harness.until('the service reconnected to Redis', async () =>
      (await complete(fileId)).body.code === 0 ? true : undefined,
    );
    await relay.relay();
    const entries = await redis.xrange(process.env.EVENTS_STREAM!, '-', '+');
    const ours = entries.filter(([, fields]) => fields[fields.indexOf('fileId') + 1] === fileId);
    assert.equal(ours.length, 1);
    const [event] = await db.outboxEvent.findMany({ where: { fileId } });
    assert.notEqual(event?.publishedAt, null);
  });

  it('answers 503 when the streamed read-back is cut, never a short-file failure, and a retry completes', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.inject(s3Requests.getObject(fileId), {
      kind: 'reset-mid-response',
      afterBytes: 1024 * 1024,
    });
    const answer = await complete(fileId);
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 13000201);
    const retry = await complete(fileId);
    assert.equal(retry.body.code, 0);
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data, db);
  });
});
