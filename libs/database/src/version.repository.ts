// A file's versions (createRevision, completeRevision): a version is a row of files with
// revision_of = the file's id and no name of its own. At most one is pending per file (a unique
// index over open rows): a newer one supersedes an older one still uploading, in the statement that
// inserts it.
import { Injectable } from '@nestjs/common';
import type { EventTrace } from './file-events.js';
import { replaceFileContent } from './file-revisions.js';
import { fileColumns, type FileRow, toUploadFile, upsertPlans } from './file-rows.js';
import {
  COPIED_FROM_VERIFIED,
  insertFileRow,
  type LimitsVerdict,
  limitLocks,
  limitsCtes,
  lockKey,
  refuseUnlessFits,
  type UploadLimits,
} from './new-rows.js';
import { PrismaService } from './prisma.service.js';
import { isSqlUniqueViolation, sql, type SqlFragment } from './sql.js';
import type { NewUploadFile, PartPlan, UploadFile } from './upload-file.js';

// A version of the file is being completed: a newer one cannot be created now (retryable).
export class VersionBusyError extends Error {
  constructor() {
    super('a version of the file is being completed');
    this.name = 'VersionBusyError';
  }
}

// An older pending version a newer createRevision superseded: its multipart upload to abort.
export interface SupersededUpload {
  readonly id: string;
  readonly storageKey: string;
  readonly uploadId: string | null;
}

// What a superseded version answers a complete or a part PUT: no such upload task (13000401).
const SUPERSEDED_RESULT_CODE = 13000401;
const SUPERSEDED_DETAIL = 'superseded by a newer version of the file';

// A new version's row: one of `revisionOf`'s.
export type NewVersion = NewUploadFile & { readonly revisionOf: string };

@Injectable()
export class VersionRepository {
  constructor(private readonly prisma: PrismaService) {}

  // A new version of the file `version.revisionOf`, open for its parts (see insertVersion), with the
  // parts planned at createRevision. Answers the older versions it superseded.
  async createVersion(
    version: NewVersion,
    plans: readonly PartPlan[],
    viaService: boolean,
    limits: UploadLimits,
  ): Promise<SupersededUpload[]> {
    const superseded = await this.insertVersion(version, limits, sql`'UPLOADING', NULL, false, NULL, NULL`, sql``);
    if (plans.length > 0) {
      try {
        await this.prisma.sql.query(upsertPlans(sql`SELECT ${version.id}::varchar`, plans, viaService));
      } catch (error) {
        await this.prisma.sql.query(sql`DELETE FROM files WHERE id = ${version.id}`).catch(() => undefined);
        throw error;
      }
    }
    return superseded;
  }

  // A new version whose content the service already holds (flash upload): completed at once, in the
  // same statement the file's content, the history version and the file.revision.completed event.
  async createCompletedVersion(
    version: NewVersion,
    sha256: string,
    trace: EventTrace,
    quota: UploadLimits['quota'] = null,
  ): Promise<SupersededUpload[]> {
    return this.insertVersion(
      version,
      { quota, maxOpenPerUser: null },
      sql`'COMPLETED', ${sha256}, true, now(), ${COPIED_FROM_VERIFIED}`,
      replaceFileContent('file', trace),
    );
  }

  // Gives a file from before versions its first revisionId, unless it has one: the one it has.
  async assignRevisionId(id: string, revisionId: string): Promise<string> {
    const [row] = await this.prisma.sql.query<{ revisionId: string }>(sql`
      WITH assigned AS (
        UPDATE files SET revision_id = ${revisionId}, updated_at = now()
         WHERE id = ${id} AND revision_id IS NULL
        RETURNING revision_id
      )
      SELECT COALESCE((SELECT revision_id FROM assigned), (SELECT revision_id FROM files WHERE id = ${id}))
               AS "revisionId"`);
    return row?.revisionId ?? revisionId;
  }

  // The file (no version row) and its newest version, pending or settled (null: none), in one
  // statement. The pending version is always the newest: a newer one supersedes it.
  async findWithNewestVersion(
    id: string,
    ownerId: string,
  ): Promise<{ file: UploadFile; version: UploadFile | null } | null> {
    const rows = await this.prisma.sql.query<FileRow>(sql`
      SELECT ${fileColumns('f')} FROM files f WHERE f.id = ${id} AND f.owner_id = ${ownerId} AND f.revision_of IS NULL
      UNION ALL
      (SELECT ${fileColumns('v')} FROM files v
        WHERE v.revision_of = ${id} ORDER BY v.created_at DESC LIMIT 1)`);
    const file = rows.find((row) => row.revisionOf === null);
    // a version has its file's owner: none is answered without its file
    const version = rows.find((row) => row.revisionOf !== null);
    if (file === undefined) {
      return null;
    }
    return { file: toUploadFile(file), version: version === undefined ? null : toUploadFile(version) };
  }

  // A version's row (no name of its own), in one statement, inserted only when it fits `limits` and
  // no version of its file is being completed (else VersionBusyError): an older version still
  // uploading is superseded by the same statement (EXPIRED, its part plans gone, its hold released
  // and counted so), and answered for its multipart upload to be aborted. A lock on the file makes
  // concurrent createRevisions of one file take turns, so the newer one supersedes the older.
  private async insertVersion(
    version: NewVersion,
    limits: UploadLimits,
    state: SqlFragment,
    more: SqlFragment,
  ): Promise<SupersededUpload[]> {
    const parent = version.revisionOf;
    // what the statement supersedes holds nothing against the new version's limits
    const superseding = sql` AND (revision_of IS DISTINCT FROM ${parent} OR status <> 'UPLOADING')`;
    const statement = sql`
      WITH ${limitsCtes(version, limits, superseding)}, busy AS (
        -- the file's open versions locked, each as it is now: a claim committed since this statement
        -- began (or one it waits for) shows here, where the statement's own view would not see it
        SELECT count(*) FILTER (WHERE status = 'COMPLETING')::int AS versions
          FROM (SELECT status FROM files WHERE revision_of = ${parent} AND status IN ('UPLOADING', 'COMPLETING')
                   FOR UPDATE) open_versions
      ), go AS (
        SELECT fits.quota AND fits.tasks AND busy.versions = 0 AS ok FROM fits, busy
      ), superseded AS (
        UPDATE files
           SET status = 'EXPIRED', result_code = ${SUPERSEDED_RESULT_CODE}, result_detail = ${SUPERSEDED_DETAIL},
               updated_at = now()
         WHERE revision_of = ${parent} AND status = 'UPLOADING' AND (SELECT ok FROM go)
        RETURNING id, storage_key, upload_id
      ), superseded_plans AS (
        DELETE FROM file_parts WHERE file_id IN (SELECT id FROM superseded)
      ), file AS (
        ${insertFileRow(version, state, sql`(SELECT ok FROM go) AND (SELECT count(*) FROM superseded) >= 0`)}
      )${more}
      SELECT held.bytes::float8 AS held, open.tasks AS open, fits.quota AS "fitsQuota", fits.tasks AS "fitsTasks",
             busy.versions AS busy,
             COALESCE((SELECT json_agg(json_build_object('id', id, 'storageKey', storage_key, 'uploadId', upload_id))
                         FROM superseded), '[]') AS superseded
        FROM held, open, fits, busy`;
    let verdict: (LimitsVerdict & { busy: number; superseded: SupersededUpload[] }) | undefined;
    try {
      [verdict] = await this.prisma.sql.transaction(
        [lockKey('version', parent), ...limitLocks(version, limits)],
        (tx) => tx.query<LimitsVerdict & { busy: number; superseded: SupersededUpload[] }>(statement),
      );
    } catch (error) {
      // an older version claimed for completion between this statement's snapshot and its write
      throw isSqlUniqueViolation(error) ? new VersionBusyError() : error;
    }
    if (verdict !== undefined && verdict.busy > 0) {
      throw new VersionBusyError();
    }
    refuseUnlessFits(verdict);
    return verdict!.superseded;
  }
}
