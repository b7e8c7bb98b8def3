// What every ObjectStorage must do, whatever holds the bytes: the S3 spec and the local-disk spec
// both run it, each writing parts its own way (a PUT to a presigned URL, or uploadPart).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { ObjectNotFoundError, type ObjectStorage, UploadNotFoundError } from '@koodrive/storage';
import { sha256OfRanges, sha256OfStream } from '@koodrive/verification';
import { sha256Hex, testBytes } from './harness.ts';

export type PartWriter = (key: string, uploadId: string, partNumber: number, bytes: Buffer) => Promise<void>;

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(work));
  }
}

// Registers the contract's tests in the calling describe; `storage` is read when they run.
export function objectStorageContract(storage: () => ObjectStorage, writePart: PartWriter): void {
  it('lists every part across pages (more than RGW returns in one page)', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage().createMultipartUpload(key, {});
    const numbers = Array.from({ length: 1005 }, (_, i) => i + 1);
    await inBatches(numbers, 32, async (n) => {
      await writePart(key, uploadId, n, Buffer.from([n & 0xff]));
    });
    const parts = await storage().listParts(key, uploadId);
    assert.equal(parts.length, 1005);
    assert.deepEqual(
      parts.map((p) => p.partNumber),
      numbers,
    );
    assert.ok(parts.every((p) => p.size === 1 && p.etag.length > 0));
    await storage().abortMultipartUpload(key, uploadId);
    await assert.rejects(storage().listParts(key, uploadId), UploadNotFoundError);
  });

  it('combines parts into an object carrying the upload metadata, streams it back, deletes it', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage().createMultipartUpload(key, { 'koodrive-upload-token': 'tok-1' });
    const data = testBytes(5 * 1024 * 1024 + 10, 31);
    await writePart(key, uploadId, 1, data.subarray(0, 5 * 1024 * 1024));
    await writePart(key, uploadId, 2, data.subarray(5 * 1024 * 1024));
    await storage().completeMultipartUpload(key, uploadId, await storage().listParts(key, uploadId));
    assert.deepEqual(await storage().headObject(key), {
      size: data.length,
      metadata: { 'koodrive-upload-token': 'tok-1' },
    });
    assert.deepEqual(await sha256OfStream(await storage().readObject(key)), {
      sha256: sha256Hex(data),
      bytes: data.length,
    });
    // the pipelined read-back over real ranged reads, across the part boundary and a short last range
    assert.deepEqual(
      await sha256OfRanges(
        (start, into, onData, signal) => storage().readInto(key, start, into, { onData, signal }),
        data.length,
        { rangeBytes: 1024 * 1024 + 7, window: 3, retries: 0 },
      ),
      { sha256: sha256Hex(data), bytes: data.length },
    );
    // a range received into the middle of a larger buffer, its progress reported as it lands
    const into = Buffer.alloc(100 + 64 * 1024, 0xee);
    const progress: number[] = [];
    await storage().readInto(key, data.length - 64 * 1024, into.subarray(50, into.length - 50), {
      onData: (filled) => progress.push(filled),
    });
    assert.ok(into.subarray(50, into.length - 50).equals(data.subarray(data.length - 64 * 1024)));
    assert.ok(into.subarray(0, 50).every((byte) => byte === 0xee) && into.subarray(-50).every((byte) => byte === 0xee));
    assert.deepEqual(
      progress,
      progress.toSorted((a, b) => a - b),
    );
    assert.equal(progress.at(-1), 64 * 1024);
    // bytes past the end are not there to read
    await assert.rejects(storage().readInto(key, data.length - 2, Buffer.alloc(3)));
    await storage().deleteObject(key);
    assert.equal(await storage().headObject(key), null);
    await assert.rejects(storage().readInto(key, 0, Buffer.alloc(10)), ObjectNotFoundError);
  });

  it('translates an unknown upload id into UploadNotFoundError', async () => {
    await assert.rejects(storage().listParts(`test/${randomUUID()}`, 'no-such-upload'), UploadNotFoundError);
  });
}
