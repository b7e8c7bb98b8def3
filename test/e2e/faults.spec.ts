// Faults injected between the service and its dependencies by a TCP proxy (tools/testing/fault-proxy):
// connection resets during the combine and the read-back, the network to PostgreSQL and Redis
// failing mid-request (real server restarts: restarts.spec), 50 concurrent completes counted at
// the proxy, expiry and reaping.
// After each, the promises are checked in the database, in S3 and in the outbox.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import { testS3 } from '../support/s3.ts';

const real = {
  s3: process.env.S3_ENDPOINT!,
  database: process.env.DATABASE_URL!,
  redis: process.env.REDIS_URL!,
};
const s3 = await FaultProxy.start(real.s3, { http: true });
const postgres = await FaultProxy.start(real.database);
const redis = await FaultProxy.start(real.redis);

const harness = await import('../support/harness.ts');
const { assertCompletedOnce, assertUploadGone } = await import('../support/promises.ts');
const { OutboxRelayService } = await import('../../apps/upload/src/maintenance/outbox-relay.service.ts');
const { ReaperService } = await import('../../apps/upload/src/maintenance/reaper.service.ts');
const { ReconcilerService } = await import('../../apps/upload/src/maintenance/reconciler.service.ts');

const LEASE_SECONDS = 2;
const RANGE_BYTES = 1024 * 1024;
const PART = 5 * 1024 * 1024;

// the service reaches S3, Postgres and Redis through the proxies; clients PUT parts to RGW directly
const app = harness.useTestApp({
  S3_ENDPOINT: s3.url(real.s3),
  S3_PUBLIC_ENDPOINT: real.s3,
  DATABASE_URL: postgres.url(real.database),
  REDIS_URL: redis.url(real.redis),
  COMPLETE_LEASE_SECONDS: String(LEASE_SECONDS),
  // the pipelined read-back (ranged GETs): its retry of a cut range is under test here
  VERIFY_WINDOW: '4',
  VERIFY_RANGE_BYTES: String(RANGE_BYTES),
});

const completeOf = s3Requests.complete;
const getObjectOf = s3Requests.getObject;

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('faults between the service and its dependencies', () => {
  let user: Awaited<ReturnType<typeof harness.newUser>>;
  const data = harness.testBytes(PART + 1024 * 1024, 7);
  const complete = (fileId: string) => harness.call(app().baseUrl, 'complete', { fileId }, { token: user.token });

  before(async () => {
    user = await harness.newUser();
  });
  after(async () => {
    s3.clearFaults();
    await Promise.all([s3.stop(), postgres.stop(), redis.stop()]);
  });

  it('sends exactly one CompleteMultipartUpload for 50 concurrent completes, all answered alike', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    const answers = await Promise.all(Array.from({ length: 50 }, () => complete(fileId)));
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.code, 0);
      assert.equal(answer.body.sha256, harness.sha256Hex(data));
    }
    assert.equal(s3.count(completeOf(fileId)), 1);
    assert.equal(s3.count(getObjectOf(fileId)), Math.ceil(data.length / RANGE_BYTES), 'read back once');
    await assertCompletedOnce(fileId, data);
  });

  it('settles a combine whose answer was lost to a reset (the SDK retry finds the work done)', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.inject(completeOf(fileId), { kind: 'reset-after-answer' });
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 0);
    assert.ok(s3.count(completeOf(fileId)) >= 2, 'the combine was sent again after the reset');
    await assertCompletedOnce(fileId, data);
  });

  it('answers 503 when every combine answer is lost, and the reconciler then finishes the file', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.inject(completeOf(fileId), { kind: 'reset-after-answer' }, 100);
    const answer = await complete(fileId);
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 13000201);
    assert.equal(answer.headers.get('retry-after'), '5');
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'COMPLETING');
    assert.ok(row.claimExpiresAt! <= new Date(), 'the failed worker ended its lease at once');
    s3.clearFaults();
    const report = await app().app.get(ReconcilerService).reconcile();
    assert.ok(report.completed >= 1);
    await assertCompletedOnce(fileId, data);
    const again = await complete(fileId);
    assert.equal(again.body.code, 0);
    assert.equal(again.body.sha256, harness.sha256Hex(data));
  });

  it('finishes a complete whose client went away, and answers the next call from the record', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    const held = deferred();
    const release = deferred();
    s3.inject(completeOf(fileId), { kind: 'hold', release: release.promise, onHeld: held.resolve });
    const gone = new AbortController();
    const pending = fetch(`${app().baseUrl}/koodrive/ose/v1/files/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fileId }),
      signal: gone.signal,
    });
    await held.promise;
    gone.abort();
    await assert.rejects(pending);
    release.resolve();
    for (let i = 0; (await harness.fileRow(fileId)).status !== 'COMPLETED'; i++) {
      assert.ok(i < 100, 'the abandoned complete finished');
      await sleep(50);
    }
    await assertCompletedOnce(fileId, data);
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 0);
    assert.equal(s3.count(completeOf(fileId)), 1);
    assert.equal(
      s3.count(getObjectOf(fileId)),
      Math.ceil(data.length / RANGE_BYTES),
      'answered from the record, not read again',
    );
  });

  it('fetches a read-back range cut mid-body again, without restarting the hash, and completes', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.inject(getObjectOf(fileId), { kind: 'reset-mid-response', afterBytes: 256 * 1024 });
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 0);
    assert.equal(answer.body.sha256, harness.sha256Hex(data));
    // the cut range is asked again from the byte it reached, not from its start
    const ranges = s3.requests.filter(getObjectOf(fileId)).map(
      (request) =>
        /^bytes=(\d+)-(\d+)$/
          .exec(request.range ?? '')!
          .slice(1)
          .map(Number) as [number, number],
    );
    assert.equal(ranges.length, Math.ceil(data.length / RANGE_BYTES) + 1);
    const resumed = ranges.filter(([start]) => start % RANGE_BYTES !== 0);
    assert.equal(resumed.length, 1, JSON.stringify(ranges));
    const [[from, to]] = resumed as [[number, number]];
    const cutRange = from - (from % RANGE_BYTES);
    assert.ok(from > cutRange && ranges.some(([start, end]) => start === cutRange && end === to));
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data);
  });

  it('answers 503 when the read-back keeps failing, and a retry verifies without combining again', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.inject(getObjectOf(fileId), { kind: 'reset-mid-response', afterBytes: 256 * 1024 }, 100);
    const answer = await complete(fileId);
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 13000201);
    s3.clearFaults();
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'COMPLETING');
    assert.notEqual(row.combinedAt, null);
    const retry = await complete(fileId);
    assert.equal(retry.body.code, 0);
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data);
  });

  it('answers 13000401, never success, when the combined object vanished before it was verified', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    s3.inject(getObjectOf(fileId), { kind: 'reset-before' }, 100); // more than all retries
    assert.equal((await complete(fileId)).status, 503);
    s3.clearFaults();
    const row = await harness.fileRow(fileId);
    assert.notEqual(row.combinedAt, null);
    const raw = testS3();
    await raw.send(new DeleteObjectCommand({ Bucket: process.env.S3_BUCKET!, Key: row.storageKey }));
    raw.destroy();
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 13000401);
    assert.equal((await harness.fileRow(fileId)).status, 'FAILED');
    assert.deepEqual(await harness.outboxEvents(fileId), []);
  });

  it('survives the network to PostgreSQL failing after the combine: 503, then a retry completes once it is back', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    const held = deferred();
    const release = deferred();
    s3.inject(completeOf(fileId), { kind: 'hold', release: release.promise, onHeld: held.resolve });
    const pending = complete(fileId);
    await held.promise; // RGW has combined the parts; the service has not heard yet
    await postgres.stop();
    release.resolve();
    const answer = await pending;
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 13000201);
    const down = await complete(fileId);
    assert.equal(down.status, 503);
    await postgres.start();
    const retry = await complete(fileId); // waits out the lease the failed worker could not end
    assert.equal(retry.body.code, 0);
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data);
  });

  it('completes with the network to Redis failing mid-request; events wait in the outbox until it is back', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    const held = deferred();
    const release = deferred();
    s3.inject(completeOf(fileId), { kind: 'hold', release: release.promise, onHeld: held.resolve });
    const pending = complete(fileId);
    await held.promise;
    await redis.stop();
    release.resolve();
    const answer = await pending;
    assert.equal(answer.body.code, 0, 'past authentication, completing needs no Redis');
    await assertCompletedOnce(fileId, data);
    const relay = app().app.get(OutboxRelayService);
    await assert.rejects(relay.relay(), /redis/i);
    // a new request cannot be authenticated without Redis: 503, never a 401
    const refused = await complete(fileId);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 13000201);
    await redis.start();
    for (let attempt = 0; ; attempt++) {
      const answer = await complete(fileId).catch(() => undefined);
      if (answer?.body.code === 0) {
        break;
      }
      assert.ok(attempt < 50, 'the service reconnected to Redis');
      await sleep(200);
    }
    await relay.relay();
    const entries = await harness.streamEntries(fileId);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.type, 'file.completed');
    assert.equal((JSON.parse(entries[0]!.payload!) as { sha256: string }).sha256, harness.sha256Hex(data));
    assert.notEqual((await harness.outboxEvents(fileId))[0]!.publishedAt, null);
  });

  it('reaps an expired upload: EXPIRED, name freed, parts aborted in storage, complete says 13000401', async () => {
    const fileName = `reap-${Date.now()}.bin`;
    const { fileId } = await harness.upload(app().baseUrl, user, data, { fileName, skipParts: [2] });
    const before = await harness.fileRow(fileId);
    await harness.testDb().file.update({ where: { id: fileId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await app().app.get(ReaperService).reap();
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'EXPIRED');
    assert.equal(row.uploadId, null);
    await assertUploadGone(before.storageKey, before.uploadId!);
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 13000401);
    const reused = await harness.call(
      app().baseUrl,
      'create',
      { fileName, length: 1, autoRename: 3 },
      { token: user.token },
    );
    assert.equal(reused.body.code, 0, 'the name is free again');
    assert.equal(reused.body.fileName, fileName);
  });
});
