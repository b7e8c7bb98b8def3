import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

// the repository, from .out/test/support (the tests run compiled)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// A raw S3 client on the test environment, for looking behind the service's back.
export function testS3(): S3Client {
  return new S3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: process.env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! },
  });
}

// A bucket of a test's own, made by the tool services:up runs, with its CORS rule for `origins`
// (comma-separated, as CORS_ORIGINS).
export async function ensureBucket(bucket: string, origins: string): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'tools/services/ensure-bucket.ts')], {
    env: { ...process.env, S3_BUCKET: bucket, CORS_ORIGINS: origins },
  });
}

// Removes a test's own bucket: its unfinished multipart uploads, its objects, then itself.
export async function removeBucket(bucket: string): Promise<void> {
  const s3 = testS3();
  try {
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const upload of uploads.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key }));
    if (keys.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
}
