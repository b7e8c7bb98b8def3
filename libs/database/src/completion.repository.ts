// A completion under its claim: every status change is one guarded statement naming the claim,
// so a worker whose claim was taken over changes nothing.
import { Injectable } from '@nestjs/common';
import { type EventTrace, insertCompletedEvent } from './file-events.js';
import { nextRevisionVersion, replaceFileContent } from './file-revisions.js';
import { fileColumns, type FileRow, toUploadFile } from './file-rows.js';
import { PrismaService } from './prisma.service.js';
import { sql, type SqlFragment } from './sql.js';
import type { UploadFile } from './upload-file.js';

// Who may claim a file's completion: its owner, in the space the request acts in.
export interface Claimant {
  readonly userId: string;
  readonly shareFolderId: string | null;
}

@Injectable()
export class CompletionRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Takes the completion lease: from an open file, or from a claim whose lease ran out. Records the
  // digest this completion must reach (`sha256`, else the one declared at create) and the request's
  // X-Traceid, so whoever finishes the completion (this caller, a retry or the reconciler) checks
  // the same thing and tells the same trace. Answers the file as claimed, or null when it is not
  // claimable now (or not the claimant's).
  // `revisionOf`: the row must be a version of that file (null: a file, no version).
  async claimForCompletion(
    id: string,
    claimant: Claimant,
    leaseSeconds: number,
    sha256: string | null,
    xTraceid: string | null,
    revisionOf: string | null = null,
  ): Promise<UploadFile | null> {
    const [row] = await this.prisma.sql.query<FileRow>(sql`
      UPDATE files f
         SET status = 'COMPLETING', claim = claim + 1,
             claim_expires_at = now() + make_interval(secs => ${leaseSeconds}),
             expected_sha256 = COALESCE(${sha256}, declared_sha256), claim_traceid = ${xTraceid}, updated_at = now()
       WHERE id = ${id} AND owner_id = ${claimant.userId}
         AND share_folder_id IS NOT DISTINCT FROM ${claimant.shareFolderId}
         AND revision_of IS NOT DISTINCT FROM ${revisionOf}
         AND expires_at > now()
         AND (status = 'UPLOADING' OR (status = 'COMPLETING' AND claim_expires_at < now()))
      RETURNING ${fileColumns('f')}`);
    return row === undefined ? null : toUploadFile(row);
  }

  // The reconciler's claim: only on a lapsed lease, keeping the digest and X-Traceid of the
  // request that started the completion. Past the upload's expiry too: a completion that was
  // started in time is finished (or rolled back) rather than left half done.
  async claimLapsedCompletion(id: string, leaseSeconds: number): Promise<UploadFile | null> {
    const [row] = await this.prisma.sql.query<FileRow>(sql`
      UPDATE files f
         SET claim = claim + 1, claim_expires_at = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
       WHERE id = ${id} AND status = 'COMPLETING' AND claim_expires_at < now()
      RETURNING ${fileColumns('f')}`);
    return row === undefined ? null : toUploadFile(row);
  }

  // Extends the lease `claim` holds while it is live. One given up (abandonClaim) or lapsed is not
  // taken back: a renewal sent just before the abandon and applied after it (it waited for the
  // row) would otherwise hold off a retry or the reconciler for a whole lease. The clock is read
  // when the row is, not when the statement began, so such a renewal sees the abandon's time.
  async renewLease(id: string, claim: number, leaseSeconds: number): Promise<boolean> {
    return this.fenced(
      id,
      claim,
      sql`claim_expires_at = now() + make_interval(secs => ${leaseSeconds})`,
      sql`claim_expires_at > clock_timestamp()`,
    );
  }

  // The parts are combined; `chainSha256` is the digest their hash chain proved, when it did.
  async markCombined(id: string, claim: number, chainSha256: string | null = null): Promise<boolean> {
    return this.fenced(id, claim, sql`combined_at = now(), chain_sha256 = ${chainSha256}`);
  }

  // Completed, and its event, in one statement: the event exists exactly when the status does.
  // `verifiedBy`: how the digest of the stored bytes was established. A file announces
  // file.completed; a version (revision_of set) becomes its file's content, the content it
  // replaces recorded as history, and announces file.revision.completed (file-revisions.ts).
  async markCompleted(
    id: string,
    claim: number,
    verified: { sha256: string; by: string },
    trace: EventTrace,
  ): Promise<boolean> {
    const rows = await this.prisma.sql.query(sql`
      WITH file AS (
        UPDATE files
           SET status = 'COMPLETED', actual_sha256 = ${verified.sha256}, verified_by = ${verified.by},
               completed_at = now(), claim_expires_at = NULL, result_code = NULL, result_detail = NULL,
               revision_version = CASE WHEN revision_of IS NULL THEN revision_version
                                       ELSE ${nextRevisionVersion(sql`files.revision_of`)} END,
               updated_at = now()
         WHERE id = ${id} AND claim = ${claim} AND status = 'COMPLETING'
        RETURNING *
      ), completed_file AS (SELECT * FROM file WHERE revision_of IS NULL),
      announced AS (${insertCompletedEvent('completed_file', trace)})${replaceFileContent('file', trace)}
      SELECT 1 FROM file`);
    return rows.length === 1;
  }

  // Back to UPLOADING with the reason, so the client can fix its parts and complete again.
  async releaseWithResult(id: string, claim: number, resultCode: number, resultDetail: string): Promise<boolean> {
    return this.fenced(
      id,
      claim,
      sql`status = 'UPLOADING', claim_expires_at = NULL, result_code = ${resultCode}, result_detail = ${resultDetail}`,
    );
  }

  // Ends the lease early (a dependency failed): the next complete may take over at once.
  async abandonClaim(id: string, claim: number): Promise<boolean> {
    return this.fenced(id, claim, sql`claim_expires_at = now()`);
  }

  // Terminal failure; the file gives up its name in the folder, in the same statement.
  async markFailed(id: string, claim: number, resultCode: number, resultDetail: string): Promise<boolean> {
    const rows = await this.prisma.sql.query(sql`
      WITH failed AS (
        UPDATE files
           SET status = 'FAILED', claim_expires_at = NULL, result_code = ${resultCode},
               result_detail = ${resultDetail}, updated_at = now()
         WHERE id = ${id} AND claim = ${claim} AND status = 'COMPLETING'
        RETURNING id
      ), freed AS (DELETE FROM folder_entries WHERE file_id IN (SELECT id FROM failed))
      SELECT 1 FROM failed`);
    return rows.length === 1;
  }

  // One guarded update under the claim `claim`: false when the claim is no longer the file's (or
  // the row fails `only`).
  private async fenced(id: string, claim: number, set: SqlFragment, only: SqlFragment = sql`TRUE`): Promise<boolean> {
    const rows = await this.prisma.sql.query(sql`
      UPDATE files SET ${set}, updated_at = now()
       WHERE id = ${id} AND claim = ${claim} AND status = 'COMPLETING' AND ${only}
      RETURNING 1`);
    return rows.length === 1;
  }
}
