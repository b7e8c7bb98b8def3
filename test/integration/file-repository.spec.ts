import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadConfig } from '@koodrive/config';
import { newUploadFile, claimNumber } from '../support/factories.ts';
import {
  CompletionRepository,
  FileNameTakenError,
  MaintenanceRepository,
  PartPutRepository,
  PrismaService,
  UploadTaskRepository,
  VersionBusyError,
  VersionRepository,
} from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';

const prisma = new PrismaService(loadConfig(process.env));
const tasks = new UploadTaskRepository(prisma);
const completions = new CompletionRepository(prisma);
const maintenance = new MaintenanceRepository(prisma);
const partPuts = new PartPutRepository(prisma);
const versions = new VersionRepository(prisma);
const NO_TRACE = { traceId: undefined, xTraceid: null };

// Time passes for a file by the database's clock: its lease (and, with `expiry`, the upload's own
// deadline) moved into the past, instead of waiting for them.
async function elapse(fileId: string, what: { lease?: boolean; expiry?: boolean }): Promise<void> {
  if (what.lease === true) {
    await prisma.$executeRaw`UPDATE files SET claim_expires_at = now() - interval '1 second' WHERE id = ${fileId}`;
  }
  if (what.expiry === true) {
    await prisma.$executeRaw`UPDATE files SET expires_at = now() - interval '1 second' WHERE id = ${fileId}`;
  }
}

describe('the repositories of files', () => {
  after(() => prisma.close());

  it('hands out one completion claim at a time, and a new one only after the lease ran out', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    const first = await claimNumber(completions, file.id, file.ownerId, 1, null, null);
    assert.equal(first, 1);
    assert.equal(await claimNumber(completions, file.id, file.ownerId, 1, null, null), null);
    assert.equal(await claimNumber(completions, file.id, 'someone-else', 1, null, null), null);
    await elapse(file.id, { lease: true });
    const second = await claimNumber(completions, file.id, file.ownerId, 30, null, null);
    assert.equal(second, 2);
    // the worker holding the first claim wakes up: none of its writes land
    assert.equal(await completions.markCombined(file.id, 1), false);
    assert.equal(
      await completions.markCompleted(file.id, 1, { sha256: 'a'.repeat(64), by: 'pipelined' }, NO_TRACE),
      false,
    );
    assert.equal(await completions.renewLease(file.id, 1, 30), false);
    assert.equal(await completions.markFailed(file.id, 1, 13000402, 'stale'), false);
    assert.equal((await tasks.findForOwner(file.id, file.ownerId))?.status, 'COMPLETING');
    // the current claim's do
    assert.equal(
      await completions.markCompleted(file.id, 2, { sha256: 'b'.repeat(64), by: 'pipelined' }, NO_TRACE),
      true,
    );
    const done = await tasks.findForOwner(file.id, file.ownerId);
    assert.equal(done?.status, 'COMPLETED');
    assert.equal(done?.actualSha256, 'b'.repeat(64));
    assert.equal(await claimNumber(completions, file.id, file.ownerId, 30, null, null), null);
  });

  it('keeps a lease given up given up: a renewal that reached the row after the abandon renews nothing', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    const claim = (await claimNumber(completions, file.id, file.ownerId, 30, null, null))!;
    assert.equal(await completions.renewLease(file.id, claim, 30), true, 'a live lease is renewed');
    // the renewal is sent while the abandon holds the row, and applied once the abandon commits
    let renewal!: Promise<boolean>;
    await prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM files WHERE id = ${file.id} FOR UPDATE`;
      renewal = completions.renewLease(file.id, claim, 30);
      await waitForLockWaiters(1);
      await tx.$executeRaw`UPDATE files SET claim_expires_at = now() WHERE id = ${file.id} AND claim = ${claim}`;
    });
    assert.equal(await renewal, false, 'the renewal that waited');
    assert.equal(await completions.renewLease(file.id, claim, 30), false, 'a renewal after');
    const [row] = await prisma.$queryRaw<{ given_up: boolean }[]>`
      SELECT claim_expires_at <= now() AS given_up FROM files WHERE id = ${file.id}`;
    assert.equal(row!.given_up, true, 'the lease stays given up');
    // a retry takes it over at once
    assert.equal(await claimNumber(completions, file.id, file.ownerId, 30, null, null), claim + 1);
  });

  // Two PUTs of one part at once: the second's statement starts before the first's lease is
  // committed, and waits for the part's row. It must find the lease taken (hardening.spec saw all
  // ten of ten concurrent PUTs take it, then most refused by the per-user cap instead of the lease).
  it("gives a part's put lease to one PUT only, also to one that waited for the part's row", async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    await prisma.$executeRaw`INSERT INTO file_parts (file_id, part_number, part_size) VALUES (${file.id}, 1, 42)`;
    let second!: ReturnType<PartPutRepository['beginPartPut']>;
    await prisma.$transaction(async (tx) => {
      // the first PUT's lease, as beginPartPut takes it, not yet committed
      await tx.$executeRaw`UPDATE file_parts SET put_seq = put_seq + 1, put_lease_until = now() + interval '60 seconds'
                            WHERE file_id = ${file.id} AND part_number = 1`;
      second = partPuts.beginPartPut(file.id, 1, 42, 60);
      await waitForLockWaiters(1);
    });
    assert.equal(await second, 'busy', 'the PUT that waited for the row');
    assert.equal(await partPuts.beginPartPut(file.id, 1, 42, 60), 'busy', 'a PUT after');
    const [row] = await prisma.$queryRaw<{ put_seq: number }[]>`
      SELECT put_seq FROM file_parts WHERE file_id = ${file.id} AND part_number = 1`;
    assert.equal(row!.put_seq, 1, "only the first PUT's lease was taken");
  });

  // A flash-upload version (createCompletedVersion) while an older version's completion claim
  // commits: the statement began when the older one was still uploading. It must find that version
  // being completed (13000403 to the client), not slip past it and become the file's content while
  // the older one completes after it.
  it('refuses a flash-upload version while an older version is being claimed, also when the claim commits mid-statement', async () => {
    const parent = newUploadFile();
    await tasks.createUpload(parent);
    await prisma.$executeRaw`UPDATE files SET status = 'COMPLETED', actual_sha256 = ${'a'.repeat(64)}, revision_id = '1.1',
                               completed_at = now() WHERE id = ${parent.id}`;
    const version = (overrides: object) =>
      newUploadFile({ ownerId: parent.ownerId, containerId: parent.containerId, ...overrides });
    const older = { ...version({}), revisionOf: parent.id };
    await versions.createVersion(older, [], false, { quota: null, maxOpenPerUser: null });
    let flash!: Promise<unknown>;
    await prisma.$transaction(async (tx) => {
      // the older version's completion claim, as claimForCompletion takes it, not yet committed
      await tx.$executeRaw`UPDATE files SET status = 'COMPLETING', claim = claim + 1,
                                  claim_expires_at = now() + interval '30 seconds' WHERE id = ${older.id}`;
      flash = versions
        .createCompletedVersion({ ...version({}), revisionOf: parent.id }, 'b'.repeat(64), NO_TRACE)
        .catch((error: unknown) => error);
      await waitForLockWaiters(1);
    });
    assert.ok((await flash) instanceof VersionBusyError, `the flash-upload version: ${String(await flash)}`);
    const [file] = await prisma.$queryRaw<{ actual_sha256: string }[]>`
      SELECT actual_sha256 FROM files WHERE id = ${parent.id}`;
    assert.equal(file!.actual_sha256, 'a'.repeat(64), "the file's content stays");
  });

  it('gives 50 concurrent claims exactly one winner', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    const claims = await Promise.all(
      Array.from({ length: 50 }, () => claimNumber(completions, file.id, file.ownerId, 30, null, null)),
    );
    assert.deepEqual(
      claims.filter((c) => c !== null),
      [1],
    );
  });

  it('releases a claim back to uploading with its result, and frees the name of a failed file', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    const claim = (await claimNumber(completions, file.id, file.ownerId, 30, null, null))!;
    assert.equal(await completions.releaseWithResult(file.id, claim, 13000402, 'missing parts: 2'), true);
    const open = await tasks.findForOwner(file.id, file.ownerId);
    assert.equal(open?.status, 'UPLOADING');
    assert.equal(open?.resultDetail, 'missing parts: 2');
    assert.equal(await tasks.isNameTaken(file.containerId, 'root', file.fileName), true);
    const again = (await claimNumber(completions, file.id, file.ownerId, 30, null, null))!;
    assert.equal(again, claim + 1);
    assert.equal(await completions.markFailed(file.id, again, 13000402, 'sha256 mismatch'), true);
    assert.equal(await tasks.isNameTaken(file.containerId, 'root', file.fileName), false);
  });

  it('keeps names unique per folder', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    await assert.rejects(
      tasks.createUpload(newUploadFile({ containerId: file.containerId, fileName: file.fileName })),
      FileNameTakenError,
    );
    await tasks.createUpload(
      newUploadFile({ containerId: file.containerId, fileName: file.fileName, parentFolder: 'other' }),
    );
  });

  it('does not claim an expired upload task', async () => {
    const file = newUploadFile({ expiresAt: new Date(Date.now() - 1000) });
    await tasks.createUpload(file);
    assert.equal(await claimNumber(completions, file.id, file.ownerId, 30, null, null), null);
  });

  it('writes one file.completed event with the completion, and none for a stale claim', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    const stale = (await claimNumber(completions, file.id, file.ownerId, 1, 'c'.repeat(64), 'trace-a'))!;
    await elapse(file.id, { lease: true });
    const current = (await claimNumber(completions, file.id, file.ownerId, 30, 'c'.repeat(64), 'trace-b'))!;
    const trace = { traceId: 'f'.repeat(32), xTraceid: 'trace-b' };
    assert.equal(
      await completions.markCompleted(file.id, stale, { sha256: 'c'.repeat(64), by: 'pipelined' }, trace),
      false,
    );
    assert.equal(await prisma.outboxEvent.count({ where: { fileId: file.id } }), 0);
    assert.equal(
      await completions.markCompleted(file.id, current, { sha256: 'c'.repeat(64), by: 'pipelined' }, trace),
      true,
    );
    const events = await prisma.outboxEvent.findMany({ where: { fileId: file.id } });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'file.completed');
    assert.equal(events[0]!.traceId, 'f'.repeat(32));
    assert.equal(events[0]!.xTraceid, 'trace-b');
    assert.equal(events[0]!.publishedAt, null);
    assert.deepEqual(
      { ...(events[0]!.payload as Record<string, unknown>), completedAt: undefined },
      {
        fileId: file.id,
        ownerId: file.ownerId,
        containerId: file.containerId,
        parentFolder: 'root',
        fileName: file.fileName,
        length: 42,
        sha256: 'c'.repeat(64),
        storageKey: file.storageKey,
        rapidUpload: false,
        completedAt: undefined,
      },
    );
  });

  it('lets the reconciler claim a completion only once its lease lapsed, one claimant at a time', async () => {
    const file = newUploadFile();
    await tasks.createUpload(file);
    const first = (await claimNumber(completions, file.id, file.ownerId, 1, 'd'.repeat(64), 'trace-1'))!;
    assert.equal(await completions.claimLapsedCompletion(file.id, 30), null);
    // the lease lapsed, and the upload's expiry passed too
    await elapse(file.id, { lease: true, expiry: true });
    assert.ok((await maintenance.findLapsedCompletions(1000)).includes(file.id));
    const claims = await Promise.all(Array.from({ length: 20 }, () => completions.claimLapsedCompletion(file.id, 30)));
    const won = claims.filter((c) => c !== null);
    assert.equal(won.length, 1);
    assert.equal(won[0]!.claim, first + 1);
    // the reconciler checks what the request asked for, and carries its X-Traceid
    assert.equal(won[0]!.expectedSha256, 'd'.repeat(64));
    assert.equal(won[0]!.claimTraceid, 'trace-1');
    assert.equal(await completions.markCombined(file.id, first), false);
    assert.equal(await completions.markCombined(file.id, first + 1), true);
    assert.ok(!(await maintenance.findLapsedCompletions(1000)).includes(file.id));
  });

  it('expires overdue open uploads once, freeing their names and part plans, and tracks the abort', async () => {
    const overdue = newUploadFile({ expiresAt: new Date(Date.now() - 1000) });
    const open = newUploadFile({ containerId: overdue.containerId });
    await tasks.createUpload(overdue);
    await tasks.createUpload(open);
    await tasks.savePartPlans(overdue.id, [{ partNumber: 1, partSize: 42, partOffset: 0, hashCtx: null }], false);
    const [a, b] = await Promise.all([
      maintenance.expireOverdueUploads(1000, 13000401),
      maintenance.expireOverdueUploads(1000, 13000401),
    ]);
    const expired = [...a, ...b].filter((f) => f.id === overdue.id || f.id === open.id);
    assert.deepEqual(expired, [{ id: overdue.id, storageKey: overdue.storageKey, uploadId: 'upload-1' }]);
    const row = await prisma.file.findUniqueOrThrow({ where: { id: overdue.id } });
    assert.equal(row.status, 'EXPIRED');
    assert.equal(row.resultCode, 13000401);
    assert.equal(await tasks.isNameTaken(overdue.containerId, 'root', overdue.fileName), false);
    assert.equal(await tasks.isNameTaken(open.containerId, 'root', open.fileName), true);
    assert.deepEqual(await tasks.listPartPlans(overdue.id), []);
    // the multipart upload is still to be aborted until markUploadFreed says it was
    assert.equal(row.uploadId, 'upload-1');
    await maintenance.markUploadFreed(overdue.id);
    assert.equal((await prisma.file.findUniqueOrThrow({ where: { id: overdue.id } })).uploadId, null);
    assert.equal(await claimNumber(completions, overdue.id, overdue.ownerId, 30, null, null), null);
  });

  it('answers DependencyUnavailableError (a 503) when a transaction cannot start in time (P2028) or a statement waits on a lock past its bound', async () => {
    const tight = new PrismaService(
      loadConfig({
        ...process.env,
        DATABASE_POOL_SIZE: '1',
        DATABASE_ACQUIRE_TIMEOUT_MS: '300',
        DATABASE_STATEMENT_TIMEOUT_MS: '500',
      }),
    );
    const tightCompletions = new CompletionRepository(tight);
    const file = newUploadFile();
    await tasks.createUpload(file);
    try {
      // the pool's one connection held by a transaction: the next cannot start
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const holder = tight.$transaction(async () => {
        holding();
        await released;
      });
      await held;
      await assert.rejects(tightCompletions.markFailed(file.id, 1, 13000402, 'x'), DependencyUnavailableError);
      release();
      await holder;
      // a row lock held elsewhere: the statement is cancelled at its bound
      const claim = (await claimNumber(completions, file.id, file.ownerId, 30, null, null))!;
      await prisma.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT id FROM files WHERE id = ${file.id} FOR UPDATE`;
        await assert.rejects(tightCompletions.renewLease(file.id, claim, 30), DependencyUnavailableError);
      });
    } finally {
      await tight.close();
    }
  });
});

// Until `count` statements of this database wait for a lock (pg_stat_activity).
async function waitForLockWaiters(count: number): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const [row] = await prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if (row!.n >= count) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no ${count} statements waited for a lock within 5 s`);
}
