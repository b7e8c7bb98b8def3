import '../support/test-env.ts';
import { after, describe } from 'node:test';
import { loadConfig } from '@koodrive/config';
import { S3ObjectStorage } from '@koodrive/storage';
import { putPart } from '../support/harness.ts';
import { objectStorageContract } from '../support/object-storage-contract.ts';

const storage = new S3ObjectStorage(loadConfig(process.env).s3);

describe(S3ObjectStorage.name, () => {
  after(() => storage.destroy());

  // parts go straight to the store, over presigned URLs
  objectStorageContract(
    () => storage,
    async (key, uploadId, partNumber, bytes) => {
      await putPart((await storage.presignUploadParts(key, uploadId, [partNumber], 600))[0]!, bytes);
    },
  );
});
