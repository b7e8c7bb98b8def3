// A new row of files (a file, or a version of one) as create and createRevision insert it: in one
// statement, only when it fits its limits, the container's quota and the owner's open tasks,
// counted under advisory locks (limitLocks) that every such insert takes.
import { createHash } from 'node:crypto';
import { nextRevisionVersion } from './file-revisions.js';
import { raw, sql, type SqlFragment } from './sql.js';
import type { NewUploadFile } from './upload-file.js';

// A new file refused by its limits: the container's quota (what it uses, with what its open tasks
// hold, and the file would pass the limit), or its owner's open tasks (as many as allowed already).
export class UploadRefusedError extends Error {
  constructor(
    readonly limit: 'quota' | 'open-tasks',
    // bytes the container's open tasks hold, and the tasks the owner holds open, as counted
    readonly held: number,
    readonly open: number,
  ) {
    super(`upload refused by its ${limit} limit`);
    this.name = 'UploadRefusedError';
  }
}

// What a new file must fit in, checked in the same step that inserts it.
export interface UploadLimits {
  // KooDrive's accounting of the file's container; null: no limit
  readonly quota: { readonly used: number; readonly limit: number } | null;
  // the open upload tasks its owner may hold; null: none is opened (a file created completed)
  readonly maxOpenPerUser: number | null;
}

// verifiedBy of a flash-upload copy: its digest is that of the verified file it points at
export const COPIED_FROM_VERIFIED = 'copy';

// What an open upload task is: it holds its length against its container and counts against its
// owner, from create until it completes, fails or expires (its completion, once begun, runs on).
const OPEN_TASK = raw(`(status = 'COMPLETING' OR (status = 'UPLOADING' AND expires_at > now()))`);

export interface LimitsVerdict {
  held: number;
  open: number;
  fitsQuota: boolean;
  fitsTasks: boolean;
}

export function refuseUnlessFits(verdict: LimitsVerdict | undefined): void {
  if (verdict === undefined || !verdict.fitsQuota || !verdict.fitsTasks) {
    const limit = verdict?.fitsQuota === false ? 'quota' : 'open-tasks';
    throw new UploadRefusedError(limit, verdict?.held ?? 0, verdict?.open ?? 0);
  }
}

// The advisory locks of the limits a new row is checked against: its container's quota and its
// owner's open tasks (those it has).
export function limitLocks(file: NewUploadFile, limits: UploadLimits): bigint[] {
  return [
    ...(limits.quota === null ? [] : [lockKey('quota', file.containerId)]),
    ...(limits.maxOpenPerUser === null ? [] : [lockKey('open-tasks', file.ownerId)]),
  ];
}

// CTEs held, open and fits: what the container's open tasks hold and how many its owner has open
// (but the rows `released` leaves out), and whether the new row fits its limits. Counted under the
// locks every create of that container and owner takes (limitLocks), so two creates cannot both
// take the last bytes or the last task.
export function limitsCtes(file: NewUploadFile, limits: UploadLimits, released: SqlFragment): SqlFragment {
  const { quota, maxOpenPerUser } = limits;
  return sql`held AS (
        SELECT COALESCE(sum(length), 0) AS bytes FROM files
         WHERE ${quota !== null} AND container_id = ${file.containerId} AND ${OPEN_TASK}${released}
      ), open AS (
        SELECT count(*)::int AS tasks FROM files
         WHERE ${maxOpenPerUser !== null} AND owner_id = ${file.ownerId} AND ${OPEN_TASK}${released}
      ), fits AS (
        SELECT (${quota?.used ?? null}::numeric IS NULL
                  OR ${quota?.used ?? null}::numeric + held.bytes + ${file.length}::numeric
                       <= ${quota?.limit ?? null}::numeric) AS quota,
               (${maxOpenPerUser}::int IS NULL OR open.tasks < ${maxOpenPerUser}::int) AS tasks
          FROM held, open
      )`;
}

// The INSERT of the row, when `when` holds (it may read the fits CTE); RETURNING the row as written.
export function insertFileRow(file: NewUploadFile, state: SqlFragment, when: SqlFragment): SqlFragment {
  return sql`
        INSERT INTO files (id, owner_id, container_id, parent_folder, file_name, length, declared_sha256,
                           pre_hash, share_folder_id, file_type, mime_type, description, client_created_at,
                           storage_key, upload_id, upload_token, expires_at, revision_of, revision_id, keep_policy,
                           revision_version, status, actual_sha256, rapid_upload, completed_at, verified_by, updated_at)
        SELECT ${file.id}, ${file.ownerId}, ${file.containerId}, ${file.parentFolder}, ${file.fileName},
               ${file.length}, ${file.declaredSha256 ?? null}, ${file.preHash ?? null},
               ${file.shareFolderId ?? null}, ${file.fileType ?? null}, ${file.mimeType ?? null},
               ${file.description ?? null}, ${file.clientCreatedAt ?? null}, ${file.storageKey},
               ${file.uploadId}, ${file.uploadToken}, ${file.expiresAt}, ${file.revisionOf ?? null},
               ${file.revisionId ?? null}, ${file.keepPolicy ?? 0},
               ${file.revisionOf === undefined ? sql`1` : nextRevisionVersion(sql`${file.revisionOf}::varchar`)},
               ${state}, now()
          FROM fits WHERE ${when}
        RETURNING *`;
}

// An advisory lock's key: 64 bits of the SHA-256 of what it guards (a collision only serializes
// two creates that need not be).
export function lockKey(limit: 'quota' | 'open-tasks' | 'version', id: string): bigint {
  return createHash('sha256').update(`koodrive:${limit}:${id}`).digest().readBigInt64BE(0);
}
