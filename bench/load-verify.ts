// npm run load's verdict on every file it ran, trusting nothing the service says: a file the service
// completed is read back from the bucket by the verifier's own AWS SDK client and hashed here, and
// must be the bytes the client hashed before it sent them; its one file.completed event carries the
// client's digest and length and the object's key, in the outbox and in the stream; a file that
// must not complete (a wrong digest declared, a part left out) did not, and left no event (nor,
// for a wrong digest, an object); a success answered only for a completed file, with the client's
// digest; and every task the run's users hold is one of its files or one a create retried left.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { bytesProblems, eventProblems, inTurn, outboxEvents, streamEvents } from './stored-checks.ts';

export type Scenario = 'once' | 'repeated' | 'concurrent' | 'wrong-digest' | 'missing-part';

export interface LoadedFile {
  readonly scenario: Scenario;
  // the client's digest of the bytes it sent, computed before it sent them
  readonly sha256: string;
  readonly data: Buffer;
  readonly fileId?: string;
  // complete's final answers (code 0: success, its body's sha256)
  readonly completes: readonly { readonly code: number; readonly body: Record<string, unknown> }[];
}

interface Row {
  readonly id: string;
  readonly status: string;
  readonly actualSha256: string | null;
  readonly storageKey: string;
  readonly uploadToken: string;
}

const EXPECTED_STATUS: Readonly<Record<Scenario, string>> = {
  once: 'COMPLETED',
  repeated: 'COMPLETED',
  concurrent: 'COMPLETED',
  'wrong-digest': 'FAILED',
  'missing-part': 'UPLOADING',
};

async function fileProblems(
  file: LoadedFile,
  row: Row | undefined,
  stored: { outbox: Awaited<ReturnType<typeof outboxEvents>>; streamed: Awaited<ReturnType<typeof streamEvents>> },
  s3: S3Client,
  bucket: string,
): Promise<string[]> {
  if (row === undefined) {
    return ['created, but no row'];
  }
  const problems: string[] = [];
  const events = stored.outbox.get(row.id) ?? [];
  if (row.status !== EXPECTED_STATUS[file.scenario]) {
    problems.push(`ended ${row.status}, expected ${EXPECTED_STATUS[file.scenario]}`);
  }
  const successes = file.completes.filter((answer) => answer.code === 0);
  if (successes.length > 0 && row.status !== 'COMPLETED') {
    problems.push(`success was answered, but the file is ${row.status}`);
  }
  if (successes.some((answer) => answer.body.sha256 !== file.sha256)) {
    problems.push('success was answered with another digest than the client computed');
  }
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: row.storageKey })).catch(() => undefined);
  if (row.status !== 'COMPLETED') {
    if (events.length !== 0) {
      problems.push(`${row.status} but ${events.length} outbox event(s)`);
    }
    if (file.scenario === 'wrong-digest' && head !== undefined) {
      problems.push('a file that failed its digest left its object');
    }
    return problems;
  }
  if (row.actualSha256 !== file.sha256) {
    problems.push(`completed with digest ${row.actualSha256}, not the client's ${file.sha256}`);
  }
  if (head !== undefined && head.Metadata?.['koodrive-upload-token'] !== row.uploadToken) {
    problems.push("its object does not carry the task's upload token");
  }
  const expected = { fileId: row.id, sha256: file.sha256, length: file.data.length, storageKey: row.storageKey };
  problems.push(...(await bytesProblems(s3, bucket, expected)));
  problems.push(...eventProblems(expected, events, stored.streamed.get(row.id)));
  return problems;
}

// Every task of the run's users is a file the run knows, or one a retried create left behind (at
// most one per create sent beyond the first of each file), never completed.
async function taskProblems(
  db: pg.Pool,
  files: readonly LoadedFile[],
  userIds: readonly string[],
  createAttempts: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string; status: string }>(
    'SELECT id, status FROM files WHERE owner_id = ANY($1)',
    [userIds],
  );
  const known = new Set(files.flatMap((file) => (file.fileId === undefined ? [] : [file.fileId])));
  const strangers = rows.filter((row) => !known.has(row.id));
  const problems = strangers
    .filter((row) => row.status === 'COMPLETED')
    .map((row) => `${row.id}: COMPLETED, but the run never had its fileId`);
  const retried = createAttempts - known.size;
  if (strangers.length > retried) {
    problems.push(`${strangers.length} task(s) the run does not know, but only ${retried} create(s) were retried`);
  }
  return problems;
}

export async function verifyLoad(
  files: readonly LoadedFile[],
  run: {
    db: pg.Pool;
    redis: Redis;
    s3: S3Client;
    bucket: string;
    stream: string;
    userIds: readonly string[];
    createAttempts: number;
  },
): Promise<string[]> {
  const { db, redis, s3, bucket, stream } = run;
  const ran = files.filter((file) => file.fileId !== undefined);
  const ids = ran.map((file) => file.fileId!);
  const { rows } = await db.query<Row>(
    `SELECT id, status, actual_sha256 AS "actualSha256", storage_key AS "storageKey", upload_token AS "uploadToken"
       FROM files WHERE id = ANY($1)`,
    [ids],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  const stored = { outbox: await outboxEvents(db, ids), streamed: await streamEvents(redis, stream) };
  const problems = await inTurn(ran, 4, (file) => fileProblems(file, byId.get(file.fileId!), stored, s3, bucket));
  const violations = ran.flatMap((file, i) =>
    problems[i]!.map((problem) => `${file.fileId} (${file.scenario}): ${problem}`),
  );
  violations.push(...(await taskProblems(db, files, run.userIds, run.createAttempts)));
  const completed = rows.filter((row) => row.status === 'COMPLETED').length;
  console.log(
    `\nverified independently: ${completed} completed file(s) read back from storage by the verifier's own S3 ` +
      `client and hashed against the clients' digests; ${[...stored.outbox.values()].flat().length} outbox ` +
      `event(s) and their stream entries compared; ${ran.length} file(s) and the tasks of ${run.userIds.length} ` +
      'user(s) accounted for',
  );
  return violations;
}
