// The soak's verdict, from PostgreSQL, the bucket and the events stream once the load has stopped:
// every upload the client saw succeed is COMPLETED with its digest and length, its object is in the
// bucket with that size and this task's upload token, and its one file.completed event was
// published; no completion is left COMPLETING once lapsed leases have had time to be taken over.
// A sample of the objects is read back and hashed.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { UploadRecord } from './client.ts';

const UPLOAD_TOKEN_METADATA = 'koodrive-upload-token';
const READ_BACK_SAMPLE = 20;

interface FileRow {
  readonly id: string;
  readonly status: string;
  readonly length: string;
  readonly actualSha256: string | null;
  readonly storageKey: string;
  readonly uploadToken: string;
  readonly claim: number;
  readonly verifiedBy: string | null;
  readonly events: number;
  readonly unpublished: number;
}

export interface Checks {
  // uploads the client saw succeed, and of those, found whole (row, object, event)
  readonly succeeded: number;
  readonly found: number;
  readonly readBack: number;
  // completed files whose completion was claimed more than once (a worker's lease taken over)
  readonly takenOver: number;
  readonly verifiedBy: Record<string, number>;
  // tasks the client did not see complete (a create whose answer was lost, an upload given up), by status
  readonly otherTasks: Record<string, number>;
  readonly gaveUp: { fileId?: string; via: string; length: number; status?: string; failure?: string }[];
  readonly violations: string[];
}

// Waits until no file is COMPLETING and every event is published, or `timeoutMs`; returns the
// seconds it took and what is left.
export async function settle(
  db: pg.Pool,
  timeoutMs: number,
): Promise<{ seconds: number; completing: number; unpublished: number }> {
  const started = performance.now();
  for (;;) {
    const { rows } = await db.query<{ completing: number; unpublished: number }>(
      `SELECT (SELECT count(*)::int FROM files WHERE status = 'COMPLETING') AS completing,
              (SELECT count(*)::int FROM outbox_events WHERE published_at IS NULL) AS unpublished`,
    );
    const left = rows[0]!;
    const seconds = (performance.now() - started) / 1000;
    if ((left.completing === 0 && left.unpublished === 0) || seconds * 1000 > timeoutMs) {
      return { seconds, ...left };
    }
    await sleep(500);
  }
}

async function fileRows(db: pg.Pool): Promise<Map<string, FileRow>> {
  const { rows } = await db.query<FileRow>(
    `SELECT id, status, length::text AS length, actual_sha256 AS "actualSha256", storage_key AS "storageKey",
            upload_token AS "uploadToken", claim, verified_by AS "verifiedBy",
            (SELECT count(*)::int FROM outbox_events o WHERE o.file_id = files.id) AS events,
            (SELECT count(*)::int FROM outbox_events o WHERE o.file_id = files.id AND o.published_at IS NULL) AS unpublished
       FROM files`,
  );
  return new Map(rows.map((row) => [row.id, row]));
}

async function streamedFileIds(redis: Redis, stream: string): Promise<Map<string, number>> {
  const streamed = new Map<string, number>();
  for (const [, fields] of await redis.xrange(stream, '-', '+')) {
    const fileId = fields[fields.indexOf('fileId') + 1]!;
    streamed.set(fileId, (streamed.get(fileId) ?? 0) + 1);
  }
  return streamed;
}

// What is wrong with one upload the client saw succeed (nothing: an empty list).
async function problemsOf(
  upload: UploadRecord,
  row: FileRow | undefined,
  s3: S3Client,
  bucket: string,
  streamed: ReadonlyMap<string, number>,
): Promise<string[]> {
  if (row === undefined) {
    return ['answered 0, but there is no row'];
  }
  const problems: string[] = [];
  if (row.status !== 'COMPLETED' || row.actualSha256 !== upload.sha256 || Number(row.length) !== upload.length) {
    problems.push(`answered 0, but the row is ${row.status}, ${row.actualSha256 ?? 'no digest'}, ${row.length} B`);
  }
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: row.storageKey })).catch(() => undefined);
  if (head?.ContentLength !== upload.length || head.Metadata?.[UPLOAD_TOKEN_METADATA] !== row.uploadToken) {
    problems.push(
      `its object is ${head === undefined ? 'missing' : `${head.ContentLength} B, token ${head.Metadata?.[UPLOAD_TOKEN_METADATA]}`}`,
    );
  }
  if (row.events !== 1 || row.unpublished !== 0 || streamed.get(row.id) === undefined) {
    problems.push(
      `${row.events} outbox event(s), ${row.unpublished} unpublished, ${streamed.get(row.id) ?? 0} in the stream`,
    );
  }
  return problems;
}

async function readBackMatches(s3: S3Client, bucket: string, key: string, sha256: string): Promise<boolean> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of object.Body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
  }
  return hash.digest('hex') === sha256;
}

export async function verify(
  uploads: readonly UploadRecord[],
  services: { db: pg.Pool; redis: Redis; s3: S3Client; bucket: string; stream: string },
): Promise<Checks> {
  const { db, redis, s3, bucket, stream } = services;
  const rows = await fileRows(db);
  const streamed = await streamedFileIds(redis, stream);
  const violations: string[] = [];
  const succeeded = uploads.filter((upload) => upload.outcome === 'succeeded');
  let found = 0;
  for (const upload of succeeded) {
    const problems = await problemsOf(upload, rows.get(upload.fileId!), s3, bucket, streamed);
    violations.push(...problems.map((problem) => `${upload.fileId} (${upload.via}, ${upload.length} B): ${problem}`));
    found += problems.length === 0 ? 1 : 0;
  }
  const sample = [...succeeded].sort(() => Math.random() - 0.5).slice(0, READ_BACK_SAMPLE);
  for (const upload of sample) {
    if (!(await readBackMatches(s3, bucket, rows.get(upload.fileId!)?.storageKey ?? '', upload.sha256))) {
      violations.push(`${upload.fileId}: the bytes read back are not the ones uploaded`);
    }
  }
  const stuck = [...rows.values()].filter((row) => row.status === 'COMPLETING');
  violations.push(...stuck.map((row) => `${row.id}: still COMPLETING (claim ${row.claim})`));
  const succeededIds = new Set(succeeded.map((upload) => upload.fileId));
  const completed = [...rows.values()].filter((row) => row.status === 'COMPLETED');
  return {
    succeeded: succeeded.length,
    found,
    readBack: sample.length,
    takenOver: completed.filter((row) => row.claim > 1).length,
    verifiedBy: tally(completed.map((row) => row.verifiedBy ?? 'none')),
    otherTasks: tally([...rows.values()].filter((row) => !succeededIds.has(row.id)).map((row) => row.status)),
    gaveUp: uploads
      .filter((upload) => upload.outcome === 'gave up')
      .map((upload) => ({
        fileId: upload.fileId,
        via: upload.via,
        length: upload.length,
        status: upload.fileId === undefined ? undefined : rows.get(upload.fileId)?.status,
        failure: upload.failure,
      })),
    violations,
  };
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) {
    counts[value] = (counts[value] ?? 0) + 1;
  }
  return counts;
}
