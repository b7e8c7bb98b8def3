// ReaperService on the embedded parts (PGlite, the local-disk store): overdue uploads expire and
// their multipart uploads are aborted; an abort that fails is retried on the next run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PartPlan } from '@koodrive/database';
import { ApiCode } from '@koodrive/errors';
import {
  bytesOf,
  claimed,
  findFile,
  openUpload,
  storePart,
  uploadIsOpen,
  useEmbeddedParts,
} from '../../../../test/support/embedded-parts.js';
import { ReaperService } from './reaper.service.js';

const OVERDUE = () => new Date(Date.now() - 60_000);
const PLAN: PartPlan = { partNumber: 1, partSize: 42, partOffset: 0, hashCtx: null };

describe(ReaperService.name, () => {
  const parts = useEmbeddedParts();
  const reaper = () => new ReaperService(parts().maintenance, parts().storage);

  // An upload with its one part in storage, due at `expiresAt`.
  async function uploadDue(expiresAt: Date) {
    const upload = await openUpload(parts(), { length: 42, expiresAt }, [PLAN]);
    await storePart(parts(), upload, 1, bytesOf(42));
    return upload;
  }

  it('expires overdue uploads, freeing their names, plans and storage, and nothing else', async () => {
    const overdue = await uploadDue(OVERDUE());
    const current = await uploadDue(new Date(Date.now() + 3600_000));
    // a completion started in time is left to finish, even past the expiry
    const completing = await uploadDue(new Date(Date.now() + 3600_000));
    await claimed(parts(), completing.file);
    // its expiry passes while it runs
    await parts().prisma.file.update({ where: { id: completing.file.id }, data: { expiresAt: OVERDUE() } });

    const report = await reaper().reap();

    assert.deepEqual(report, { expired: 1, freed: 1, failed: 0 });
    const expired = await findFile(parts(), overdue.file.id);
    assert.equal(expired.status, 'EXPIRED');
    assert.equal(expired.resultCode, ApiCode.TaskNotFound);
    assert.equal(expired.uploadId, null);
    assert.equal(await uploadIsOpen(parts(), overdue.file.storageKey, overdue.uploadId), false);
    assert.equal(
      await parts().tasks.isNameTaken(overdue.file.containerId, overdue.file.parentFolder, overdue.file.fileName),
      false,
    );
    assert.deepEqual(await parts().tasks.listPartPlans(overdue.file.id), []);

    assert.equal((await findFile(parts(), current.file.id)).status, 'UPLOADING');
    assert.equal(await uploadIsOpen(parts(), current.file.storageKey, current.uploadId), true);
    assert.equal((await findFile(parts(), completing.file.id)).status, 'COMPLETING');
    assert.equal(await uploadIsOpen(parts(), completing.file.storageKey, completing.uploadId), true);
  });

  it('retries on its next run an abort that failed, keeping the upload id until it succeeds', async () => {
    const overdue = await uploadDue(OVERDUE());
    parts().storage.failNext('abortMultipartUpload');

    const first = await reaper().reap();

    assert.deepEqual(first, { expired: 1, freed: 0, failed: 1 });
    const pending = await findFile(parts(), overdue.file.id);
    assert.equal(pending.status, 'EXPIRED');
    assert.equal(pending.uploadId, overdue.uploadId);
    assert.equal(await uploadIsOpen(parts(), overdue.file.storageKey, overdue.uploadId), true);

    const second = await reaper().reap();

    assert.deepEqual(second, { expired: 0, freed: 1, failed: 0 });
    assert.equal((await findFile(parts(), overdue.file.id)).uploadId, null);
    assert.equal(await uploadIsOpen(parts(), overdue.file.storageKey, overdue.uploadId), false);
  });
});
