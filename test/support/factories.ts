// Test data: a new upload file as the create service would hand it to the repository.
import { randomUUID } from 'node:crypto';
import type { CompletionRepository, NewUploadFile } from '@koodrive/database';

export function newUploadFile(overrides: Partial<NewUploadFile> = {}): NewUploadFile {
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
    storageKey: `${process.env.S3_KEY_PREFIX ?? 'test-files/'}${id}`,
    uploadId: 'upload-1',
    uploadToken: 'token-1',
    expiresAt: new Date(Date.now() + 3600_000),
    ...overrides,
  };
}

// A complete request's claim on a file of the owner's own space: the claim number, or null.
export async function claimNumber(
  completions: CompletionRepository,
  fileId: string,
  ownerId: string,
  leaseSeconds: number,
  sha256: string | null,
  xTraceid: string | null,
): Promise<number | null> {
  const claimed = await completions.claimForCompletion(
    fileId,
    { userId: ownerId, shareFolderId: null },
    leaseSeconds,
    sha256,
    xTraceid,
  );
  return claimed?.claim ?? null;
}
