// The soak's own database and bucket on the local services: made fresh before the run (the
// database migrated with the repository's migration tool, the bucket by the tool services:up
// runs), and removed after it, objects and unfinished multipart uploads first.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { migrate } from '../../tools/db/migrate.ts';
import type { Env } from '../support.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

// The same server's URL for another database.
function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

// Drops `database` if a run before left it, creates it and migrates it; returns its URL.
export async function freshDatabase(serverUrl: string, database: string): Promise<string> {
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await onServer(serverUrl, `CREATE DATABASE ${database}`);
  const url = databaseUrl(serverUrl, database);
  await migrate(url);
  return url;
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

export function ensureBucket(env: Env, bucket: string): void {
  const made = spawnSync(process.execPath, [path.join(ROOT, 'tools/services/ensure-bucket.ts')], {
    env: { ...env, S3_BUCKET: bucket, CORS_ORIGINS: '' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (made.status !== 0) {
    throw new Error(`could not make bucket ${bucket}`);
  }
}

// Empties the bucket (every page of it) and deletes it; returns the objects it held.
export async function removeBucket(s3: S3Client, bucket: string): Promise<number> {
  for (;;) {
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const upload of uploads.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
    }
    if (uploads.IsTruncated !== true) {
      break;
    }
  }
  let objects = 0;
  for (;;) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key }));
    if (keys.length === 0) {
      break;
    }
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    objects += keys.length;
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  return objects;
}
