import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../libs/config/src/app-config.ts';
import { FileNameTakenError, FileRepository } from '../../libs/database/src/file.repository.ts';
import { PrismaService } from '../../libs/database/src/prisma.service.ts';
import type { NewUploadFile } from '../../libs/database/src/upload-file.ts';

const prisma = new PrismaService(loadConfig(process.env));
const files = new FileRepository(prisma);

function newFile(overrides: Partial<NewUploadFile> = {}): NewUploadFile {
  const id = `Fi${randomUUID().replaceAll('-', '')}`;
  return {
    id,
    ownerId: 'owner-1',
    containerId: `c-${randomUUID()}`,
    parentFolder: 'root',
    fileName: `${id}.bin`,
    length: 42,
    declaredSha256: undefined,
    fileType: undefined,
    mimeType: undefined,
    description: undefined,
    clientCreatedAt: undefined,
    storageKey: `files/${id}`,
    uploadId: 'upload-1',
    uploadToken: 'token-1',
    expiresAt: new Date(Date.now() + 3600_000),
    ...overrides,
  };
}

describe(FileRepository.name, () => {
  after(() => prisma.$disconnect());

  it('hands out one completion claim at a time, and a new one only after the lease ran out', async () => {
    const file = newFile();
    await files.createUpload(file);
    const first = await files.claimForCompletion(file.id, file.ownerId, 1);
    assert.equal(first, 1);
    assert.equal(await files.claimForCompletion(file.id, file.ownerId, 1), null);
    assert.equal(await files.claimForCompletion(file.id, 'someone-else', 1), null);
    await sleep(1100);
    const second = await files.claimForCompletion(file.id, file.ownerId, 30);
    assert.equal(second, 2);
    // the worker holding the first claim wakes up: none of its writes land
    assert.equal(await files.markCombined(file.id, 1), false);
    assert.equal(await files.markCompleted(file.id, 1, 'a'.repeat(64)), false);
    assert.equal(await files.renewLease(file.id, 1, 30), false);
    assert.equal(await files.markFailed(file.id, 1, 13000402, 'stale'), false);
    assert.equal((await files.findForOwner(file.id, file.ownerId))?.status, 'COMPLETING');
    // the current claim's do
    assert.equal(await files.markCompleted(file.id, 2, 'b'.repeat(64)), true);
    const done = await files.findForOwner(file.id, file.ownerId);
    assert.equal(done?.status, 'COMPLETED');
    assert.equal(done?.actualSha256, 'b'.repeat(64));
    assert.equal(await files.claimForCompletion(file.id, file.ownerId, 30), null);
  });

  it('gives 50 concurrent claims exactly one winner', async () => {
    const file = newFile();
    await files.createUpload(file);
    const claims = await Promise.all(
      Array.from({ length: 50 }, () => files.claimForCompletion(file.id, file.ownerId, 30)),
    );
    assert.deepEqual(
      claims.filter((c) => c !== null),
      [1],
    );
  });

  it('releases a claim back to uploading with its result, and frees the name of a failed file', async () => {
    const file = newFile();
    await files.createUpload(file);
    const claim = (await files.claimForCompletion(file.id, file.ownerId, 30))!;
    assert.equal(await files.releaseWithResult(file.id, claim, 13000402, 'missing parts: 2'), true);
    const open = await files.findForOwner(file.id, file.ownerId);
    assert.equal(open?.status, 'UPLOADING');
    assert.equal(open?.resultDetail, 'missing parts: 2');
    assert.equal(await files.isNameTaken(file.containerId, 'root', file.fileName), true);
    const again = (await files.claimForCompletion(file.id, file.ownerId, 30))!;
    assert.equal(again, claim + 1);
    assert.equal(await files.markFailed(file.id, again, 13000402, 'sha256 mismatch'), true);
    assert.equal(await files.isNameTaken(file.containerId, 'root', file.fileName), false);
  });

  it('keeps names unique per folder', async () => {
    const file = newFile();
    await files.createUpload(file);
    await assert.rejects(
      files.createUpload(newFile({ containerId: file.containerId, fileName: file.fileName })),
      FileNameTakenError,
    );
    await files.createUpload(
      newFile({ containerId: file.containerId, fileName: file.fileName, parentFolder: 'other' }),
    );
  });

  it('does not claim an expired upload task', async () => {
    const file = newFile({ expiresAt: new Date(Date.now() - 1000) });
    await files.createUpload(file);
    assert.equal(await files.claimForCompletion(file.id, file.ownerId, 30), null);
  });
});
