// README claims about completions and the background jobs, shown against the real services with
// the fault proxy between the service and RGW, PostgreSQL and Redis (clients PUT parts to RGW
// directly): the completion lease renewed while a complete is held past it; a second complete
// giving up with 13000403 after COMPLETE_WAIT_SECONDS; the reconciler's rollback, vanished-upload
// and retry-later paths; the reaper retrying an abort that failed; the outbox relay publishing
// once with two relays at once, and again (at least once) when a publish could not be marked.
// Each outcome is read back from the database row, S3 and the Redis stream.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortMultipartUploadCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { OutboxRepository } from '@koodrive/database';
import { EVENT_PUBLISHER, type EventPublisher } from '@koodrive/events';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import type { TestUser } from '../support/harness.ts';
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
const WAIT_SECONDS = 1;
const PART = 5 * 1024 * 1024;

const app = harness.useTestApp({
  S3_ENDPOINT: s3.url(real.s3),
  S3_PUBLIC_ENDPOINT: real.s3,
  DATABASE_URL: postgres.url(real.database),
  REDIS_URL: redis.url(real.redis),
  COMPLETE_LEASE_SECONDS: String(LEASE_SECONDS),
  COMPLETE_WAIT_SECONDS: String(WAIT_SECONDS),
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// One counter of the service's /metrics, 0 when not exported yet.
async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(app().metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('README claims: completion lease, waiting completes, reconciler, reaper, outbox relay', () => {
  let user: TestUser;
  const small = harness.testBytes(64 * 1024, 401);
  const complete = (fileId: string, body: Record<string, unknown> = {}) =>
    harness.call(app().baseUrl, 'complete', { fileId, ...body }, { token: user.token });

  // A complete while storage is down: 503, and the worker gives its lease up at once, leaving a
  // lapsed completion for the reconciler (as when a dependency failed under a worker).
  async function lapsedCompletion(fileId: string): Promise<void> {
    await s3.stop();
    try {
      const answer = await complete(fileId);
      assert.equal(answer.status, 503);
      assert.equal(answer.body.code, 13000201);
    } finally {
      await s3.start();
    }
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'COMPLETING');
    assert.equal(row.claim, 1);
    assert.ok(row.claimExpiresAt! <= new Date(), 'the lease was given up');
  }

  before(async () => {
    user = await harness.newUser();
  });
  after(async () => {
    s3.clearFaults();
    await Promise.all([s3.stop(), postgres.stop(), redis.stop()]);
  });

  it('renews the lease of a complete held past COMPLETE_LEASE_SECONDS: same claim, none taken over, one outcome', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, small);
    const held = deferred();
    const release = deferred();
    s3.inject(s3Requests.complete(fileId), { kind: 'hold', release: release.promise, onHeld: held.resolve });
    const completing = complete(fileId);
    await held.promise; // RGW combined the parts; the worker waits for the answer
    const first = await harness.fileRow(fileId);
    assert.equal(first.status, 'COMPLETING');
    assert.equal(first.claim, 1);
    const firstExpiry = first.claimExpiresAt!.getTime();
    // the lease the claim was taken with is over, yet the row still holds a live lease of claim 1
    const renewed = await harness.until('the first lease term is over', async () => {
      const row = await harness.fileRow(fileId);
      return Date.now() > firstExpiry + 500 ? row : undefined;
    });
    assert.equal(renewed.status, 'COMPLETING');
    assert.equal(renewed.claim, 1);
    assert.ok(renewed.claimExpiresAt!.getTime() > firstExpiry, 'claim_expires_at moved forward');
    assert.ok(renewed.claimExpiresAt! > new Date(), 'the lease is live');
    // the reconciler, which takes over lapsed leases, leaves this one alone
    await app().app.get(ReconcilerService).reconcile();
    assert.equal((await harness.fileRow(fileId)).claim, 1, 'no other claim taken');
    release.resolve();
    const answer = await completing;
    assert.equal(answer.body.code, 0);
    assert.equal(answer.body.sha256, harness.sha256Hex(small));
    const done = await harness.fileRow(fileId);
    assert.equal(done.claim, 1);
    assert.equal(done.claimExpiresAt, null);
    assert.equal(s3.count(s3Requests.complete(fileId)), 1);
    await assertCompletedOnce(fileId, small); // one file.completed event
  });

  it('gives a complete waiting on a running one up with 13000403 after COMPLETE_WAIT_SECONDS', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, small);
    const held = deferred();
    const release = deferred();
    s3.inject(s3Requests.complete(fileId), { kind: 'hold', release: release.promise, onHeld: held.resolve });
    const first = complete(fileId);
    await held.promise;
    const started = Date.now();
    const second = await complete(fileId);
    const waitedMs = Date.now() - started;
    assert.equal(second.status, 400);
    assert.equal(second.body.code, 13000403);
    assert.match(second.body.msg, /^Change file status failed\. another complete is still running; retry$/);
    assert.ok(waitedMs >= WAIT_SECONDS * 1000, `gave up after ${waitedMs} ms`);
    assert.ok(waitedMs < WAIT_SECONDS * 1000 + 1500, `gave up after ${waitedMs} ms`);
    assert.equal((await harness.fileRow(fileId)).claim, 1, 'the waiter took no claim');
    release.resolve();
    assert.equal((await first).body.code, 0);
    const third = await complete(fileId);
    assert.equal(third.body.code, 0, 'a retry gets the recorded answer');
    await assertCompletedOnce(fileId, small);
  });

  it('reconciler: parts that do not add up go back to UPLOADING with 13000402; the task stays open', async () => {
    const data = harness.testBytes(PART + 1024, 402);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, { skipParts: [2] });
    await lapsedCompletion(fileId);
    const report = await app().app.get(ReconcilerService).reconcile();
    assert.ok((report.settled[13000402] ?? 0) >= 1, JSON.stringify(report));
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'UPLOADING');
    assert.equal(row.claim, 2, 'the reconciler ran it under a claim of its own');
    assert.equal(row.claimExpiresAt, null);
    assert.equal(row.resultCode, 13000402);
    // the missing last part is named: it was planned (uploadUrl), never uploaded
    assert.equal(row.resultDetail, 'missing parts: 2');
    assert.equal(row.combinedAt, null);
    assert.deepEqual(await harness.outboxEvents(fileId), []);
    // the client can upload the missing part and complete
    await harness.putPart(parts[1]!.uploadUrl, data.subarray(PART));
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 0);
    await assertCompletedOnce(fileId, data);
  });

  it('reconciler: a multipart upload aborted behind its back fails the file with 13000401', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, small);
    await lapsedCompletion(fileId);
    const before = await harness.fileRow(fileId);
    const raw = testS3();
    try {
      await raw.send(
        new AbortMultipartUploadCommand({
          Bucket: process.env.S3_BUCKET!,
          Key: before.storageKey,
          UploadId: before.uploadId!,
        }),
      );
    } finally {
      raw.destroy();
    }
    const report = await app().app.get(ReconcilerService).reconcile();
    assert.ok((report.settled[13000401] ?? 0) >= 1, JSON.stringify(report));
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'FAILED');
    assert.equal(row.resultCode, 13000401);
    assert.equal(row.claimExpiresAt, null);
    assert.equal(await harness.testDb().folderEntry.count({ where: { fileId } }), 0, 'its name is free');
    assert.deepEqual(await harness.outboxEvents(fileId), []);
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 13000401);
  });

  it('reconciler: storage down during its run leaves the file COMPLETING with the lease given up; a later run finishes it', async () => {
    const data = harness.testBytes(PART + 2048, 403);
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    await lapsedCompletion(fileId);
    const reconciler = app().app.get(ReconcilerService);
    const label = 'task="reconcile",action="retry_later"';
    const retriesBefore = await metric('koodrive_maintenance_actions_total', label);
    await s3.stop();
    let report;
    try {
      report = await reconciler.reconcile();
    } finally {
      await s3.start();
    }
    assert.ok(report.retryLater >= 1, JSON.stringify(report));
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'COMPLETING');
    assert.equal(row.claim, 2, 'the reconciler claimed it');
    assert.ok(row.claimExpiresAt! <= new Date(), 'and gave its lease up at once');
    assert.ok((await metric('koodrive_maintenance_actions_total', label)) - retriesBefore >= 1);
    const later = await reconciler.reconcile();
    assert.ok(later.completed >= 1, JSON.stringify(later));
    assert.equal((await harness.fileRow(fileId)).claim, 3);
    assert.equal(s3.count(s3Requests.complete(fileId)), 1, 'combined once');
    await assertCompletedOnce(fileId, data);
    assert.equal((await complete(fileId)).body.code, 0);
  });

  it('reaper: an abort that fails with storage down is retried, and done, on the next run', async () => {
    const { fileId } = await harness.upload(app().baseUrl, user, small);
    const before = await harness.fileRow(fileId);
    await harness.testDb().file.update({ where: { id: fileId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const reaper = app().app.get(ReaperService);
    const label = 'task="reap",action="failed"';
    const failuresBefore = await metric('koodrive_maintenance_actions_total', label);
    await s3.stop();
    let first;
    try {
      first = await reaper.reap();
    } finally {
      await s3.start();
    }
    assert.ok(first.expired >= 1 && first.failed >= 1, JSON.stringify(first));
    const expired = await harness.fileRow(fileId);
    assert.equal(expired.status, 'EXPIRED');
    assert.equal(expired.uploadId, before.uploadId, 'still to abort');
    assert.ok((await metric('koodrive_maintenance_actions_total', label)) - failuresBefore >= 1);
    // the multipart upload and its part are still in the store
    const raw = testS3();
    try {
      const listed = await raw.send(
        new ListPartsCommand({ Bucket: process.env.S3_BUCKET!, Key: before.storageKey, UploadId: before.uploadId! }),
      );
      assert.equal(listed.Parts?.length, 1);
    } finally {
      raw.destroy();
    }
    const second = await reaper.reap();
    assert.ok(second.freed >= 1, JSON.stringify(second));
    assert.equal((await harness.fileRow(fileId)).uploadId, null);
    await assertUploadGone(before.storageKey, before.uploadId!);
    assert.equal((await complete(fileId)).body.code, 13000401);
  });

  it('outbox: two relays at once publish each event once (the second skips the rows the first holds)', async () => {
    const relay = app().app.get(OutboxRelayService);
    await relay.relay(); // nothing else waiting: the events below are the only unpublished ones
    const fileIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { fileId } = await harness.upload(app().baseUrl, user, harness.testBytes(1000, 410 + i));
      assert.equal((await complete(fileId)).body.code, 0);
      fileIds.push(fileId);
    }
    const publisher = app().app.get<symbol, EventPublisher>(EVENT_PUBLISHER);
    const entered = deferred();
    const gate = deferred();
    // the first relay is held inside its publish, its batch's rows locked in its transaction
    const first = new OutboxRelayService(app().app.get(OutboxRepository), {
      publish: async (events) => {
        entered.resolve();
        await gate.promise;
        await publisher.publish(events);
      },
    });
    const firstRun = first.relay();
    await entered.promise;
    await relay.relay(); // the second relay, meanwhile
    for (const fileId of fileIds) {
      assert.deepEqual(await harness.streamEntries(fileId), [], 'the second relay published a held event');
    }
    gate.resolve();
    assert.ok((await firstRun) >= fileIds.length);
    await relay.relay();
    for (const fileId of fileIds) {
      const [event] = await harness.outboxEvents(fileId);
      assert.notEqual(event!.publishedAt, null);
      const entries = await harness.streamEntries(fileId);
      assert.equal(entries.length, 1, `${fileId} published ${entries.length} times`);
      assert.equal(entries[0]!.id, event!.id.toString());
    }
  });

  it('outbox: a relay whose XADD went out but whose mark was lost publishes again, under the same id', async () => {
    const relay = app().app.get(OutboxRelayService);
    await relay.relay();
    const { fileId } = await harness.upload(app().baseUrl, user, harness.testBytes(1000, 420));
    assert.equal((await complete(fileId)).body.code, 0);
    const publisher = app().app.get<symbol, EventPublisher>(EVENT_PUBLISHER);
    // the XADD succeeds, then the connection to PostgreSQL is cut before the relay's commit
    const cut = new OutboxRelayService(app().app.get(OutboxRepository), {
      publish: async (events) => {
        await publisher.publish(events);
        postgres.cutConnections();
      },
    });
    await assert.rejects(cut.relay());
    const [event] = await harness.outboxEvents(fileId);
    assert.equal(event!.publishedAt, null, 'not marked: the transaction died with its connection');
    assert.equal((await harness.streamEntries(fileId)).length, 1, 'but the event is in the stream');
    await harness.until('the next relay marks it', async () => {
      await relay.relay().catch(() => undefined);
      const [row] = await harness.outboxEvents(fileId);
      return row!.publishedAt === null ? undefined : row;
    });
    const entries = await harness.streamEntries(fileId);
    assert.equal(entries.length, 2, 'published again: at least once');
    assert.deepEqual(
      entries.map((entry) => entry.id),
      [event!.id.toString(), event!.id.toString()],
      'both under the outbox id, for consumers to dedupe on',
    );
    assert.deepEqual(entries[0], entries[1]);
  });
});
