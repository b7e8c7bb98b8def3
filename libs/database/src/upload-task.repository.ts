// Upload tasks as create, uploadUrl and complete find and record them: the file, its name in its
// folder, its part plans (a completed file's id naming its newest version, for uploadUrl); and
// completed content for flash uploads. Each change is one statement (a new file's, under the locks
// of its container's quota and its owner's open tasks: new-rows.ts).
import { Injectable } from '@nestjs/common';
import { type EventTrace, insertCompletedEvent } from './file-events.js';
import {
  fileColumns,
  type FileRow,
  intArrayLiteral,
  PART_COLUMNS,
  type PartRow,
  toPartRecord,
  toUploadFile,
  upsertPlans,
} from './file-rows.js';
import {
  COPIED_FROM_VERIFIED,
  insertFileRow,
  type LimitsVerdict,
  limitLocks,
  limitsCtes,
  refuseUnlessFits,
  type UploadLimits,
} from './new-rows.js';
import { PrismaService } from './prisma.service.js';
import { isSqlUniqueViolation, sql, type SqlFragment } from './sql.js';
import type { NewUploadFile, PartPlan, PartRecord, UploadFile } from './upload-file.js';

export class FileNameTakenError extends Error {
  constructor() {
    super('file name taken in folder');
    this.name = 'FileNameTakenError';
  }
}

const NO_LIMITS: UploadLimits = { quota: null, maxOpenPerUser: null };

export interface CompletedMatch {
  readonly id: string;
  readonly storageKey: string;
}

@Injectable()
export class UploadTaskRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Inserts the file, takes its name in the folder and records the parts planned at create, when
  // it fits its limits; FileNameTakenError when the name is held, UploadRefusedError past a limit.
  // `viaService`: the parts' URLs point at the service (see savePartPlans). The plans (up to
  // 10,000) are written once the file is in, outside the limits' locks, so concurrent creates of
  // one user or container wait for each other's file row only; if they cannot be written, the file
  // goes again (no one has its id yet).
  async createUpload(
    file: NewUploadFile,
    plans: readonly PartPlan[] = [],
    viaService = false,
    limits: UploadLimits = NO_LIMITS,
  ): Promise<void> {
    await this.insertWithEntry(file, limits, sql`'UPLOADING', NULL, false, NULL, NULL`, sql``);
    if (plans.length === 0) {
      return;
    }
    try {
      await this.prisma.sql.query(upsertPlans(sql`SELECT ${file.id}::varchar`, plans, viaService));
    } catch (error) {
      await this.prisma.sql.query(sql`DELETE FROM files WHERE id = ${file.id}`).catch(() => undefined);
      throw error;
    }
  }

  // A file whose content the service already holds (flash upload): completed at once, with its
  // file.completed event; it opens no task, but must fit the container's quota.
  async createCompletedCopy(
    file: NewUploadFile,
    sha256: string,
    trace: EventTrace,
    quota: UploadLimits['quota'] = null,
  ): Promise<void> {
    await this.insertWithEntry(
      file,
      { quota, maxOpenPerUser: null },
      sql`'COMPLETED', ${sha256}, true, now(), ${COPIED_FROM_VERIFIED}`,
      sql`, announced AS (${insertCompletedEvent('file', trace)})`,
    );
  }

  async findForOwner(id: string, ownerId: string): Promise<UploadFile | null> {
    const [row] = await this.prisma.sql.query<FileRow>(
      sql`SELECT ${fileColumns('f')} FROM files f WHERE f.id = ${id} AND f.owner_id = ${ownerId}`,
    );
    return row === undefined ? null : toUploadFile(row);
  }

  // The upload task a client names with a file's id, and the parts planned so far but for those in
  // `except` (the ones asked for again: a 10,000-part uploadUrl reads none back), in part-number
  // order, in one statement: the file's own row, or once the file is completed its newest version's
  // (the pending one, if any: a newer version supersedes it), if it has one. A version's own row id
  // names nothing here.
  async findWithPlans(
    id: string,
    ownerId: string,
    except: readonly number[] = [],
  ): Promise<{ file: UploadFile; plans: PartRecord[] } | null> {
    const [row] = await this.prisma.sql.query<FileRow & { parts: PartRow[] }>(sql`
      WITH named AS (
        SELECT * FROM files WHERE id = ${id} AND owner_id = ${ownerId} AND revision_of IS NULL
      ), newest AS (
        SELECT v.* FROM files v
         WHERE v.revision_of = ${id} AND (SELECT status FROM named) = 'COMPLETED'
         ORDER BY v.created_at DESC LIMIT 1
      ), target AS (
        SELECT * FROM newest UNION ALL SELECT * FROM named
      )
      SELECT ${fileColumns('f')},
             COALESCE((SELECT json_agg(p ORDER BY p."partNumber")
                         FROM (SELECT ${PART_COLUMNS} FROM file_parts fp
                                WHERE fp.file_id = f.id
                                  -- an anti join (hashed), not <> ALL: 10,000 against 10,000
                                  AND NOT EXISTS (SELECT 1 FROM unnest(${intArrayLiteral(except)}::int[]) AS asked(n)
                                                   WHERE asked.n = fp.part_number)) p),
                      '[]') AS parts
        FROM target f ORDER BY f.revision_of IS NULL LIMIT 1`);
    if (row === undefined) {
      return null;
    }
    const { parts, ...file } = row;
    return { file: toUploadFile(file), plans: parts.map(toPartRecord) };
  }

  async isNameTaken(containerId: string, parentFolder: string, fileName: string): Promise<boolean> {
    const rows = await this.prisma.sql.query(sql`
      SELECT 1 FROM folder_entries
       WHERE container_id = ${containerId} AND parent_folder = ${parentFolder} AND file_name = ${fileName}`);
    return rows.length > 0;
  }

  // The completed file holding this name in the folder, if its content has this digest (and, with
  // `ownerId`, if that user created it).
  async findCompletedByNameAndDigest(
    containerId: string,
    parentFolder: string,
    fileName: string,
    sha256: string,
    ownerId?: string,
  ): Promise<string | null> {
    const [row] = await this.prisma.sql.query<{ id: string }>(sql`
      SELECT f.id FROM folder_entries e JOIN files f ON f.id = e.file_id
       WHERE e.container_id = ${containerId} AND e.parent_folder = ${parentFolder} AND e.file_name = ${fileName}
         AND f.status = 'COMPLETED' AND f.actual_sha256 = ${sha256}
         AND (${ownerId ?? null}::text IS NULL OR f.owner_id = ${ownerId ?? null})`);
    return row?.id ?? null;
  }

  // Completed content with this digest and length whose digest the service established from the
  // stored bytes (verifiedBy set): in this container, or (containerId undefined) in any.
  async findCompletedContent(
    containerId: string | undefined,
    sha256: string,
    length: number,
  ): Promise<CompletedMatch | null> {
    const [row] = await this.prisma.sql.query<CompletedMatch>(sql`
      SELECT id, storage_key AS "storageKey" FROM files
       WHERE actual_sha256 = ${sha256} AND length = ${length} AND status = 'COMPLETED'
         AND verified_by IS NOT NULL
         AND (${containerId ?? null}::text IS NULL OR container_id = ${containerId ?? null})
       ORDER BY completed_at LIMIT 1`);
    return row ?? null;
  }

  // The parts planned so far, in part-number order, with what the service hashed of those it uploaded.
  async listPartPlans(fileId: string): Promise<PartRecord[]> {
    const rows = await this.prisma.sql.query<PartRow>(
      sql`SELECT ${PART_COLUMNS} FROM file_parts WHERE file_id = ${fileId} ORDER BY part_number`,
    );
    return rows.map(toPartRecord);
  }

  // Records (or re-records, on a retry) the parts a client asked URLs for, in one statement, while
  // the file is open. `viaService`: the URLs point at the service; a URL straight to storage clears
  // the part's viaServiceOnly for good. The file row is share-locked, so a completion claim either
  // sees these plans or made this statement find the file no longer open (false).
  async savePartPlans(fileId: string, parts: readonly PartPlan[], viaService: boolean): Promise<boolean> {
    const rows = await this.prisma.sql.query<{ n: number }>(sql`
      WITH open AS (
        SELECT id FROM files
         WHERE id = ${fileId} AND status = 'UPLOADING' AND expires_at > now()
           FOR SHARE
      ), saved AS (${upsertPlans(sql`SELECT id FROM open`, parts, viaService)} RETURNING 1)
      SELECT (SELECT count(*) FROM open)::int AS n`);
    return rows[0]?.n === 1;
  }

  // The file's row and its name's entry (and `more`, CTEs that may read `file`), in one statement,
  // inserted only when the file fits `limits` (see limitsCtes).
  // `state`: status, actual_sha256, rapid_upload, completed_at, verified_by.
  private async insertWithEntry(
    file: NewUploadFile,
    limits: UploadLimits,
    state: SqlFragment,
    more: SqlFragment,
  ): Promise<void> {
    const statement = sql`
      WITH ${limitsCtes(file, limits, sql``)}, file AS (
        ${insertFileRow(file, state, sql`fits.quota AND fits.tasks`)}
      ), entry AS (
        INSERT INTO folder_entries (container_id, parent_folder, file_name, file_id)
        SELECT container_id, parent_folder, file_name, id FROM file
      )${more}
      SELECT held.bytes::float8 AS held, open.tasks AS open, fits.quota AS "fitsQuota", fits.tasks AS "fitsTasks"
        FROM held, open, fits`;
    let verdict: LimitsVerdict | undefined;
    try {
      [verdict] = await this.prisma.sql.transaction(limitLocks(file, limits), (tx) =>
        tx.query<LimitsVerdict>(statement),
      );
    } catch (error) {
      throw isSqlUniqueViolation(error) ? new FileNameTakenError() : error;
    }
    refuseUnlessFits(verdict);
  }
}
