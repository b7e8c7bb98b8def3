// What the cost bench uploaded goes once measured: the objects (the local RGW keeps them in RAM)
// and the rows (the files, with their parts, names and outbox events), so runs start alike.
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { type Env, objectKey, s3Client } from './support.ts';

export interface UploadedFile {
  readonly fileId: string;
  readonly containerId: string;
}

export async function removeUploads(env: Env, files: readonly UploadedFile[]): Promise<void> {
  if (files.length === 0) {
    return;
  }
  const s3 = s3Client(env);
  const db = new pg.Client({ connectionString: env.DATABASE_URL });
  try {
    for (let i = 0; i < files.length; i += 1000) {
      const keys = files.slice(i, i + 1000).map(({ fileId, containerId }) => ({
        Key: objectKey(env, containerId, fileId),
      }));
      await s3.send(new DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: keys, Quiet: true } }));
    }
    await db.connect();
    await db.query('DELETE FROM files WHERE id = ANY($1)', [files.map(({ fileId }) => fileId)]);
  } finally {
    s3.destroy();
    await db.end();
  }
}
