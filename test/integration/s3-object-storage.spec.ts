import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../libs/config/src/app-config.ts';
import { S3ObjectStorage } from '../../libs/storage/src/s3-object-storage.ts';
import { ObjectNotFoundError, UploadNotFoundError } from '../../libs/storage/src/object-storage.ts';
import { putPart, sha256Hex, testBytes } from '../support/harness.ts';
import { sha256OfRanges, sha256OfStream } from '../../apps/upload/src/files/object-digest.ts';

const storage = new S3ObjectStorage(loadConfig(process.env).s3);

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(work));
  }
}

describe(S3ObjectStorage.name, () => {
  after(() => storage.destroy());

  it('lists every part across pages (more than RGW returns in one page)', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    const numbers = Array.from({ length: 1005 }, (_, i) => i + 1);
    await inBatches(numbers, 32, async (n) => {
      await putPart(await storage.presignUploadPart(key, uploadId, n, 600), Buffer.from([n & 0xff]));
    });
    const parts = await storage.listParts(key, uploadId);
    assert.equal(parts.length, 1005);
    assert.deepEqual(
      parts.map((p) => p.partNumber),
      numbers,
    );
    assert.ok(parts.every((p) => p.size === 1 && p.etag.length > 0));
    await storage.abortMultipartUpload(key, uploadId);
    await assert.rejects(storage.listParts(key, uploadId), UploadNotFoundError);
  });

  it('combines parts into an object carrying the upload metadata, streams it back, deletes it', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, { 'koodrive-upload-token': 'tok-1' });
    const data = testBytes(5 * 1024 * 1024 + 10, 31);
    await putPart(await storage.presignUploadPart(key, uploadId, 1, 600), data.subarray(0, 5 * 1024 * 1024));
    await putPart(await storage.presignUploadPart(key, uploadId, 2, 600), data.subarray(5 * 1024 * 1024));
    await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));
    assert.deepEqual(await storage.headObject(key), {
      size: data.length,
      metadata: { 'koodrive-upload-token': 'tok-1' },
    });
    assert.deepEqual(await sha256OfStream(await storage.readObject(key)), {
      sha256: sha256Hex(data),
      bytes: data.length,
    });
    // the pipelined read-back over real ranged GETs, across the part boundary and a short last range
    assert.deepEqual(
      await sha256OfRanges((start, end, signal) => storage.readRange(key, start, end, signal), data.length, {
        rangeBytes: 1024 * 1024 + 7,
        window: 3,
        retries: 0,
      }),
      { sha256: sha256Hex(data), bytes: data.length },
    );
    assert.deepEqual(await storage.readRange(key, data.length - 3, data.length - 1), data.subarray(data.length - 3));
    await storage.deleteObject(key);
    assert.equal(await storage.headObject(key), null);
    await assert.rejects(storage.readRange(key, 0, 9), ObjectNotFoundError);
  });

  it('translates an unknown upload id into UploadNotFoundError', async () => {
    await assert.rejects(storage.listParts(`test/${randomUUID()}`, 'no-such-upload'), UploadNotFoundError);
  });
});
