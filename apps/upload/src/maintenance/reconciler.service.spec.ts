// ReconcilerService on the embedded parts (PGlite, the local-disk store): completions whose lease
// lapsed are finished, rolled back or failed; one a dependency stops is left for the next run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewUploadFile } from '@koodrive/database';
import { ApiCode } from '@koodrive/errors';
import {
  bytesOf,
  claimed,
  findFile,
  lapseLease,
  openUpload,
  sha256Hex,
  storePart,
  useEmbeddedParts,
} from '../../../../test/support/embedded-parts.js';
import { CompletionRunner } from '../files/completion-runner.js';
import { ReconcilerService } from './reconciler.service.js';

describe(ReconcilerService.name, () => {
  const parts = useEmbeddedParts();
  const reconciler = () => {
    const { tasks, completions, maintenance, storage, config } = parts();
    return new ReconcilerService(
      maintenance,
      completions,
      new CompletionRunner(tasks, completions, storage, config),
      config,
    );
  };

  // A complete request that claimed the file (checking `bytes`' digest), then stopped renewing its
  // lease; `stored` is what was uploaded into its one part.
  async function lapsedCompletion(bytes: Buffer, stored: Buffer = bytes, overrides: Partial<NewUploadFile> = {}) {
    const upload = await openUpload(parts(), { length: bytes.length, ...overrides });
    const etag = await storePart(parts(), upload, 1, stored);
    const file = await claimed(parts(), upload.file, { expectedSha256: sha256Hex(bytes), xTraceid: 'trace-lapsed' });
    await lapseLease(parts(), file.id);
    return { ...upload, etag, claim: file.claim };
  }

  it("finishes a lapsed completion under a claim of its own, keeping the request's digest and X-Traceid", async () => {
    const bytes = bytesOf(42);
    const lapsed = await lapsedCompletion(bytes);

    const report = await reconciler().reconcile();

    assert.deepEqual(report, { completed: 1, settled: {}, retryLater: 0 });
    const file = await findFile(parts(), lapsed.file.id);
    assert.equal(file.status, 'COMPLETED');
    assert.equal(file.claim, lapsed.claim + 1);
    assert.equal(file.actualSha256, sha256Hex(bytes));
    const [event] = await parts().prisma.outboxEvent.findMany({ where: { fileId: file.id } });
    assert.equal(event?.xTraceid, 'trace-lapsed');
  });

  it('rolls back to UPLOADING, with the reason, a completion whose parts do not add up', async () => {
    // the file is 100 bytes; its one part holds 42
    const lapsed = await lapsedCompletion(bytesOf(100), bytesOf(42));

    const report = await reconciler().reconcile();

    assert.deepEqual(report, { completed: 0, settled: { [ApiCode.UploadIncomplete]: 1 }, retryLater: 0 });
    const file = await findFile(parts(), lapsed.file.id);
    assert.equal(file.status, 'UPLOADING');
    assert.equal(file.resultCode, ApiCode.UploadIncomplete);
    assert.notEqual(file.resultDetail, null);
    assert.equal(file.claimExpiresAt, null);
    assert.equal(file.combinedAt, null);
  });

  it('fails with 13000401 a completion whose upload vanished from storage', async () => {
    const lapsed = await lapsedCompletion(bytesOf(42));
    await parts().disk.abortMultipartUpload(lapsed.file.storageKey, lapsed.uploadId);

    const report = await reconciler().reconcile();

    assert.deepEqual(report, { completed: 0, settled: { [ApiCode.TaskNotFound]: 1 }, retryLater: 0 });
    const file = await findFile(parts(), lapsed.file.id);
    assert.equal(file.status, 'FAILED');
    assert.equal(file.resultCode, ApiCode.TaskNotFound);
  });

  it('leaves a completion a dependency stopped for a later run, which finishes it', async () => {
    const bytes = bytesOf(42, 2);
    const lapsed = await lapsedCompletion(bytes);
    parts().storage.failNext('listParts');

    const first = await reconciler().reconcile();

    assert.deepEqual(first, { completed: 0, settled: {}, retryLater: 1 });
    const stopped = await findFile(parts(), lapsed.file.id);
    assert.equal(stopped.status, 'COMPLETING');
    assert.equal(stopped.claim, lapsed.claim + 1);
    assert.equal(stopped.resultCode, null);
    // its lease ended at once, not a full lease later
    assert.ok(stopped.claimExpiresAt !== null && stopped.claimExpiresAt.getTime() <= Date.now());

    // the next run, a little later
    await lapseLease(parts(), lapsed.file.id);
    const second = await reconciler().reconcile();

    assert.deepEqual(second, { completed: 1, settled: {}, retryLater: 0 });
    const file = await findFile(parts(), lapsed.file.id);
    assert.equal(file.status, 'COMPLETED');
    assert.equal(file.actualSha256, sha256Hex(bytes));
  });

  it('leaves alone a completion whose lease still holds', async () => {
    const upload = await openUpload(parts(), { length: 42 });
    await storePart(parts(), upload, 1, bytesOf(42));
    const running = await claimed(parts(), upload.file, { leaseSeconds: 60 });

    const report = await reconciler().reconcile();

    assert.deepEqual(report, { completed: 0, settled: {}, retryLater: 0 });
    const file = await findFile(parts(), running.id);
    assert.equal(file.status, 'COMPLETING');
    assert.equal(file.claim, running.claim);
  });
});
