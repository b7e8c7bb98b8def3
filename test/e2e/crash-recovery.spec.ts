// Real service processes, really signalled. A process SIGKILLed between CompleteMultipartUpload and
// the database commit leaves a lapsed completion that a client's retry or the reconciler (on its
// interval, in another process) finishes; a worker frozen (SIGSTOP) past its lease cannot undo
// the completion another process took over. The fault proxy sits between the services and RGW.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import * as harness from '../support/harness.ts';
import { assertCompletedOnce } from '../support/promises.ts';
import { testS3 } from '../support/s3.ts';
import { ServiceProcess } from '../support/service-process.ts';

const realS3 = process.env.S3_ENDPOINT!;
const s3 = await FaultProxy.start(realS3, { http: true });
const LEASE_SECONDS = 2;

function serviceEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    S3_ENDPOINT: s3.url(realS3),
    S3_PUBLIC_ENDPOINT: realS3,
    COMPLETE_LEASE_SECONDS: String(LEASE_SECONDS),
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

const completeOf = s3Requests.complete;
const getObjectOf = s3Requests.getObject;

describe('crash recovery with real processes', () => {
  const services: ServiceProcess[] = [];
  const start = async (env: Record<string, string> = {}): Promise<ServiceProcess> => {
    const service = await ServiceProcess.start(serviceEnv(env));
    services.push(service);
    return service;
  };
  let user: harness.TestUser;
  const data = harness.testBytes(5 * 1024 * 1024 + 4096, 11);

  before(async () => {
    user = await harness.newUser();
  });
  after(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await s3.stop();
    await harness.closeTestRedis();
    await harness.closeTestDb();
  });

  // Uploads through `service`, then completes with SIGKILL striking once RGW has answered the
  // combine and before the service has heard the answer (so before any database write).
  async function killedMidComplete(service: ServiceProcess, xTraceid: string): Promise<string> {
    const { fileId } = await harness.upload(service.baseUrl, user, data);
    s3.inject(completeOf(fileId), { kind: 'reset-after-answer', onAnswered: () => service.signal('SIGKILL') });
    await assert.rejects(
      harness.call(service.baseUrl, 'complete', { fileId }, { token: user.token, headers: { 'x-traceid': xTraceid } }),
    );
    assert.equal(await service.exited(), 'SIGKILL');
    const row = await harness.fileRow(fileId);
    assert.equal(row.status, 'COMPLETING');
    assert.equal(row.combinedAt, null, 'killed before the combine was recorded');
    // but RGW did combine: the object is there
    const raw = testS3();
    const head = await raw.send(new HeadObjectCommand({ Bucket: process.env.S3_BUCKET!, Key: row.storageKey }));
    raw.destroy();
    assert.equal(head.ContentLength, data.length);
    return fileId;
  }

  it('SIGKILL between combine and commit, then a client retry on another process completes the file', async () => {
    const first = await start();
    const fileId = await killedMidComplete(first, 'crash-retry-1');
    const second = await start({ RECONCILE_INTERVAL_SECONDS: '0' });
    const answer = await harness.call(second.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(answer.body.code, 0);
    assert.equal(answer.body.sha256, harness.sha256Hex(data));
    // settled by a HEAD checking the upload token and size, not by combining again
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data);
  });

  it('SIGKILL between combine and commit, then the reconciler finishes it and the relay publishes the event', async () => {
    const first = await start();
    const fileId = await killedMidComplete(first, 'crash-reconcile-1');
    // no client comes back: the jobs of another replica, on their own intervals, finish the work
    const jobs = await start({ RECONCILE_INTERVAL_SECONDS: '1', OUTBOX_RELAY_INTERVAL_MS: '200' });
    await harness.until('the reconciler completed the file', async () =>
      (await harness.fileRow(fileId)).status === 'COMPLETED' ? true : undefined,
    );
    await assertCompletedOnce(fileId, data);
    assert.equal(s3.count(completeOf(fileId)), 1);
    const [entry] = await harness.until('the event is in the stream', async () => {
      const entries = await harness.streamEntries(fileId);
      return entries.length > 0 ? entries : undefined;
    });
    assert.equal(entry!.type, 'file.completed');
    // the event carries the trace of the request that started the completion
    assert.equal(entry!.xTraceid, 'crash-reconcile-1');
    assert.notEqual((await harness.outboxEvents(fileId))[0]!.publishedAt, null);
    // its reconciler must not run into the next test, where who completes a file is the question
    await jobs.stop();
  });

  it('a worker frozen past its lease cannot overwrite the completion another process took over', async () => {
    const frozen = await start({ RECONCILE_INTERVAL_SECONDS: '0' });
    const other = await start({ RECONCILE_INTERVAL_SECONDS: '0' });
    const { fileId } = await harness.upload(frozen.baseUrl, user, data);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let froze!: () => void;
    const frozenInRead = new Promise<void>((resolve) => (froze = resolve));
    // the frozen worker's read-back answer is held, and the worker frozen, so its lease lapses
    s3.inject(getObjectOf(fileId), {
      kind: 'hold',
      release: released,
      onHeld: () => {
        frozen.signal('SIGSTOP');
        froze();
      },
    });
    const stale = harness.call(frozen.baseUrl, 'complete', { fileId }, { token: user.token });
    await frozenInRead;
    await harness.until("the frozen worker's lease lapsed", async () => {
      const { claimExpiresAt } = await harness.fileRow(fileId);
      return claimExpiresAt !== null && claimExpiresAt < new Date() ? true : undefined;
    });
    const taken = await harness.call(
      other.baseUrl,
      'complete',
      { fileId },
      { token: user.token, headers: { 'x-traceid': 'taken-over-1' } },
    );
    assert.equal(taken.body.code, 0);
    // no reconciler runs anywhere here: the second claim is the other process's request
    const row = await harness.fileRow(fileId);
    assert.equal(row.claim, 2);
    assert.equal(row.claimTraceid, 'taken-over-1');
    // the frozen worker wakes up with its read-back finished: its writes are refused by the
    // claim fence, and it answers what the file now holds
    release();
    frozen.signal('SIGCONT');
    const late = await stale;
    assert.equal(late.body.code, 0);
    assert.equal(late.body.sha256, harness.sha256Hex(data));
    assert.equal((await harness.fileRow(fileId)).claim, 2);
    assert.equal(s3.count(completeOf(fileId)), 1);
    await assertCompletedOnce(fileId, data);
  });

  it('logs one JSON line per request, and never a session token, nor echoes one', async () => {
    const service = await start();
    const bogus = randomBytes(24).toString('hex');
    const refused = await harness.call(
      service.baseUrl,
      'create',
      { fileName: 'x.bin', length: 1 },
      { token: bogus, headers: { 'x-traceid': 'log-line-1' } },
    );
    assert.equal(refused.body.code, 13000901);
    assert.ok(!JSON.stringify(refused.body).includes(bogus));
    assert.ok(![...refused.headers.values()].some((value) => value.includes(bogus)));
    const ok = await harness.call(service.baseUrl, 'create', { fileName: 'y.bin', length: 1 }, { token: user.token });
    assert.equal(ok.body.code, 0);
    // the line is written as the response finishes: wait for it
    await harness.until("the create's log line", () =>
      Promise.resolve(service.output.includes(ok.body.fileId as string) ? true : undefined),
    );
    const lines = service.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const created = lines.find((line) => line.userId === user.userId && line.fileId === ok.body.fileId);
    assert.ok(created, 'a log line for the create');
    assert.equal(created.code, 0);
    assert.equal(created.msg, 'POST /koodrive/ose/v1/files/create 200');
    assert.equal(typeof created.responseTime, 'number');
    assert.match(created.xTraceid as string, /^[0-9a-f]{32}$/);
    const denied = lines.find((line) => line.xTraceid === 'log-line-1');
    assert.equal(denied?.code, 13000901);
    for (const each of services) {
      assert.ok(each.output.length > 0);
      assert.ok(!each.output.includes(user.token), 'a session token in the logs');
      assert.ok(!each.output.includes(bogus), 'a presented token in the logs');
    }
  });
});
