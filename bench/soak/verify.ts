// The soak's verdict, once the load has stopped, trusting nothing the service says: every upload
// the client saw succeed is read back from the bucket by the verifier's own AWS SDK client and
// hashed here, and must be the bytes the client hashed before it sent them (length and SHA-256);
// its row is COMPLETED with that digest and length and its object carries the task's upload token;
// every outbox event's payload (fileId, sha256, length, storageKey), in the outbox and in the
// stream, is compared with the client's digest (or, for a file no client saw succeed, with its row
// and object); the chaos step happened (the SIGKILL landed on a claimed completion, which then
// succeeded); and every task the run created is accounted for. Nothing is left COMPLETING once
// lapsed leases have had time to be taken over.
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import {
  bytesProblems,
  eventProblems,
  type Expected,
  inTurn,
  outboxEvents,
  type StoredEvent,
  streamEvents,
} from '../stored-checks.ts';
import type { ChaosLog } from './chaos.ts';
import type { UploadRecord } from './client.ts';

const UPLOAD_TOKEN_METADATA = 'koodrive-upload-token';
// read-backs in flight at once
const READ_BACK_WIDTH = 4;

interface FileRow {
  readonly id: string;
  readonly status: string;
  readonly length: string;
  readonly actualSha256: string | null;
  readonly storageKey: string;
  readonly uploadToken: string;
  readonly claim: number;
  readonly verifiedBy: string | null;
}

export interface Checks {
  // uploads the client saw succeed, and of those, found whole (row, object, events)
  readonly succeeded: number;
  readonly found: number;
  // successes read back from storage by the verifier and hashed (every one), and their bytes
  readonly readBack: number;
  readonly readBackBytes: number;
  // outbox events compared (every one), and the stream entries compared with them
  readonly events: { readonly outbox: number; readonly streamed: number };
  // completed files whose completion was claimed more than once (a worker's lease taken over)
  readonly takenOver: number;
  readonly verifiedBy: Record<string, number>;
  // tasks the client did not see complete (a create whose answer was lost, an upload given up), by status
  readonly otherTasks: Record<string, number>;
  // every row of the run's database, accounted for: the client's successes, the uploads it gave
  // up (with a fileId), and tasks left by creates whose answer the client never had
  readonly tasks: {
    readonly rows: number;
    readonly succeeded: number;
    readonly gaveUp: number;
    readonly unanswered: number;
    readonly unansweredCreates: number;
  };
  // the SIGKILL landed on a claimed completion, which was then answered
  readonly chaosHappened: boolean;
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
            upload_token AS "uploadToken", claim, verified_by AS "verifiedBy"
       FROM files`,
  );
  return new Map(rows.map((row) => [row.id, row]));
}

interface Stored {
  readonly rows: ReadonlyMap<string, FileRow>;
  readonly outbox: ReadonlyMap<string, StoredEvent[]>;
  readonly streamed: ReadonlyMap<string, StoredEvent[]>;
}

// What is wrong with one upload the client saw succeed (nothing: an empty list).
async function successProblems(upload: UploadRecord, stored: Stored, s3: S3Client, bucket: string): Promise<string[]> {
  const row = stored.rows.get(upload.fileId!);
  if (row === undefined) {
    return ['answered 0, but there is no row'];
  }
  const problems: string[] = [];
  if (row.status !== 'COMPLETED' || row.actualSha256 !== upload.sha256 || Number(row.length) !== upload.length) {
    problems.push(`answered 0, but the row is ${row.status}, ${row.actualSha256 ?? 'no digest'}, ${row.length} B`);
  }
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: row.storageKey })).catch(() => undefined);
  if (head !== undefined && head.Metadata?.[UPLOAD_TOKEN_METADATA] !== row.uploadToken) {
    problems.push(`its object carries upload token ${head.Metadata?.[UPLOAD_TOKEN_METADATA]}, not the task's`);
  }
  // the client's own facts, never the row's: the key is the only thing taken from the service
  const expected: Expected = {
    fileId: upload.fileId!,
    sha256: upload.sha256,
    length: upload.length,
    storageKey: row.storageKey,
  };
  problems.push(...(await bytesProblems(s3, bucket, expected)));
  problems.push(...eventProblems(expected, stored.outbox.get(row.id), stored.streamed.get(row.id)));
  return problems;
}

// The events of files no client saw succeed: a completed file's must describe its row and object
// (read back too); any other file has none.
async function otherEventProblems(
  stored: Stored,
  succeededIds: ReadonlySet<string | undefined>,
  s3: S3Client,
  bucket: string,
): Promise<string[]> {
  const problems: string[] = [];
  for (const [fileId, events] of stored.outbox) {
    if (succeededIds.has(fileId)) {
      continue;
    }
    const row = stored.rows.get(fileId);
    if (row?.status !== 'COMPLETED' || row.actualSha256 === null) {
      problems.push(`${fileId}: ${events.length} outbox event(s), but the file is ${row?.status ?? 'missing'}`);
      continue;
    }
    const expected = { fileId, sha256: row.actualSha256, length: Number(row.length), storageKey: row.storageKey };
    const found = [
      ...(await bytesProblems(s3, bucket, expected)),
      ...eventProblems(expected, events, stored.streamed.get(fileId)),
    ];
    problems.push(...found.map((problem) => `${fileId} (completed, no client saw it): ${problem}`));
  }
  return problems;
}

// The SIGKILL must have landed on a claimed completion, and that upload must have succeeded.
function chaosProblems(chaos: ChaosLog, uploads: readonly UploadRecord[]): string[] {
  if (chaos.killed === undefined) {
    return ['the chaos step did not happen: no replica was SIGKILLed'];
  }
  const { planted, plantedClaimed, replica } = chaos.killed;
  if (planted === undefined || !plantedClaimed) {
    return [`the SIGKILL of ${replica} did not land on a claimed completion (planted ${planted ?? 'nothing'})`];
  }
  const record = uploads.find((upload) => upload.fileId === planted);
  return record?.outcome === 'succeeded'
    ? []
    : [`${planted}: the completion claimed on ${replica} when it was SIGKILLed was never answered 0`];
}

// Every row is a success, an upload given up (the client knows its fileId), or a task a create left
// whose answer the client never had (at most one per create sent again, or per upload given up
// before it had a fileId), never completed.
function taskAccounting(
  uploads: readonly UploadRecord[],
  rows: ReadonlyMap<string, FileRow>,
): { tasks: Checks['tasks']; problems: string[] } {
  const known = new Map(uploads.flatMap((upload) => (upload.fileId === undefined ? [] : [[upload.fileId, upload]])));
  const unanswered = [...rows.values()].filter((row) => !known.has(row.id));
  const unansweredCreates = uploads.reduce(
    (sum, upload) => sum + upload.creates - (upload.fileId === undefined ? 0 : 1),
    0,
  );
  const problems = unanswered
    .filter((row) => row.status === 'COMPLETED')
    .map((row) => `${row.id}: COMPLETED, but no client ever had its fileId`);
  if (unanswered.length > unansweredCreates) {
    problems.push(
      `${unanswered.length} task(s) no client knows of, but only ${unansweredCreates} create(s) went unanswered`,
    );
  }
  const missing = [...known.keys()].filter((fileId) => !rows.has(fileId));
  problems.push(...missing.map((fileId) => `${fileId}: the client had this fileId, but there is no row`));
  const succeeded = uploads.filter((upload) => upload.outcome === 'succeeded').length;
  return {
    tasks: {
      rows: rows.size,
      succeeded,
      gaveUp: uploads.filter((upload) => upload.outcome === 'gave up' && upload.fileId !== undefined).length,
      unanswered: unanswered.length,
      unansweredCreates,
    },
    problems,
  };
}

export async function verify(
  uploads: readonly UploadRecord[],
  services: { db: pg.Pool; redis: Redis; s3: S3Client; bucket: string; stream: string; chaos: ChaosLog },
): Promise<Checks> {
  const { db, redis, s3, bucket, stream, chaos } = services;
  const stored: Stored = {
    rows: await fileRows(db),
    outbox: await outboxEvents(db),
    streamed: await streamEvents(redis, stream),
  };
  const violations: string[] = [];
  const succeeded = uploads.filter((upload) => upload.outcome === 'succeeded');
  const problems = await inTurn(succeeded, READ_BACK_WIDTH, (upload) => successProblems(upload, stored, s3, bucket));
  succeeded.forEach((upload, i) =>
    violations.push(
      ...problems[i]!.map((problem) => `${upload.fileId} (${upload.via}, ${upload.length} B): ${problem}`),
    ),
  );
  const succeededIds = new Set(succeeded.map((upload) => upload.fileId));
  violations.push(...(await otherEventProblems(stored, succeededIds, s3, bucket)));
  const rows = [...stored.rows.values()];
  violations.push(
    ...rows
      .filter((row) => row.status === 'COMPLETING')
      .map((row) => `${row.id}: still COMPLETING (claim ${row.claim})`),
  );
  const chaosFailed = chaosProblems(chaos, uploads);
  violations.push(...chaosFailed);
  const { tasks, problems: taskProblems } = taskAccounting(uploads, stored.rows);
  violations.push(...taskProblems);
  const completed = rows.filter((row) => row.status === 'COMPLETED');
  const checks: Checks = {
    succeeded: succeeded.length,
    found: problems.filter((found) => found.length === 0).length,
    readBack: succeeded.length,
    readBackBytes: succeeded.reduce((sum, upload) => sum + upload.length, 0),
    events: {
      outbox: [...stored.outbox.values()].reduce((sum, events) => sum + events.length, 0),
      streamed: [...stored.streamed.values()].reduce((sum, events) => sum + events.length, 0),
    },
    takenOver: completed.filter((row) => row.claim > 1).length,
    verifiedBy: tally(completed.map((row) => row.verifiedBy ?? 'none')),
    otherTasks: tally(rows.filter((row) => !succeededIds.has(row.id)).map((row) => row.status)),
    tasks,
    chaosHappened: chaosFailed.length === 0,
    gaveUp: uploads
      .filter((upload) => upload.outcome === 'gave up')
      .map((upload) => ({
        fileId: upload.fileId,
        via: upload.via,
        length: upload.length,
        status: upload.fileId === undefined ? undefined : stored.rows.get(upload.fileId)?.status,
        failure: upload.failure,
      })),
    violations,
  };
  console.error(summary(checks));
  return checks;
}

// What the verifier did, in a few lines (the report has the rest).
function summary(checks: Checks): string {
  const mib = (checks.readBackBytes / 1024 / 1024).toFixed(1);
  return [
    `soak verify: ${checks.readBack} of ${checks.succeeded} successes read back from storage by the verifier's own ` +
      `S3 client (${mib} MiB) and hashed: ${checks.found} whole (bytes, row, object token, events)`,
    `soak verify: ${checks.events.outbox} outbox event(s) and ${checks.events.streamed} stream entrie(s) compared ` +
      `with the clients' digests and lengths and the objects' keys`,
    `soak verify: ${checks.tasks.rows} task(s): ${checks.tasks.succeeded} succeeded, ${checks.tasks.gaveUp} given up, ` +
      `${checks.tasks.unanswered} left by ${checks.tasks.unansweredCreates} unanswered create(s)`,
    `soak verify: chaos ${checks.chaosHappened ? 'happened (the SIGKILL landed on a claimed completion, answered 0 after)' : 'DID NOT HAPPEN'}`,
    `soak verify: ${checks.violations.length} violation(s)${checks.violations.length === 0 ? '' : `, first: ${checks.violations[0]}`}`,
  ].join('\n');
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) {
    counts[value] = (counts[value] ?? 0) + 1;
  }
  return counts;
}
