// Test data: a new upload file as the create service would hand it to the repository.
import { randomUUID } from 'node:crypto';
import type { NewUploadFile } from '@koodrive/database';

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
