// The service's promises, checked from behind its back after a test: the database row, the
// object in S3 and the outbox.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { testDb } from './harness.ts';
import { testS3 } from './s3.ts';

// Completed once: the row says COMPLETED with the bytes' digest, the object holds exactly those
// bytes under this upload's token, and there is exactly one file.completed event.
export async function assertCompletedOnce(fileId: string, data: Buffer, db = testDb()): Promise<void> {
  const sha256 = createHash('sha256').update(data).digest('hex');
  const row = await db.file.findUniqueOrThrow({ where: { id: fileId } });
  assert.equal(row.status, 'COMPLETED');
  assert.equal(row.actualSha256, sha256);
  assert.equal(Number(row.length), data.length);
  const s3 = testS3();
  try {
    const bucket = process.env.S3_BUCKET!;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: row.storageKey }));
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.Metadata?.['koodrive-upload-token'], row.uploadToken);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: row.storageKey }));
    const hash = createHash('sha256');
    for await (const chunk of object.Body as Readable) {
      hash.update(chunk as Buffer);
    }
    assert.equal(hash.digest('hex'), sha256);
  } finally {
    s3.destroy();
  }
  const events = await db.outboxEvent.findMany({ where: { fileId } });
  assert.deepEqual(
    events.map((event) => event.type),
    ['file.completed'],
  );
}

// The multipart upload is gone from the store (aborted or combined).
export async function assertUploadGone(storageKey: string, uploadId: string): Promise<void> {
  const s3 = testS3();
  try {
    await assert.rejects(
      s3.send(new ListPartsCommand({ Bucket: process.env.S3_BUCKET!, Key: storageKey, UploadId: uploadId })),
      (error: Error) => ['NoSuchUpload', 'NoSuchKey'].includes(error.name),
    );
  } finally {
    s3.destroy();
  }
}
