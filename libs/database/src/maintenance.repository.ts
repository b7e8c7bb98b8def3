// What the background jobs scan and settle: lapsed completions, overdue uploads and their storage,
// and the counts of uploads in progress. Each scan is one statement whose WHERE names, literally,
// the predicate of a partial index of live rows (prisma/schema.prisma), so it reads only the work
// in flight however many terminal files the table holds; a status sent as a parameter would not
// let PostgreSQL prove the index applies (test/integration/background-scans.spec.ts checks the plans).
import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';
import { sql } from './sql.js';

export interface ExpiredUpload {
  readonly id: string;
  readonly storageKey: string;
  readonly uploadId: string | null;
}

@Injectable()
export class MaintenanceRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Completions whose worker stopped renewing its lease (crashed, partitioned or gave up after a
  // dependency failed), oldest first. On files_completing_claim_expires_at_idx.
  async findLapsedCompletions(limit: number): Promise<string[]> {
    const rows = await this.prisma.sql.query<{ id: string }>(sql`
      SELECT id FROM files
       WHERE status = 'COMPLETING' AND claim_expires_at < now()
       ORDER BY claim_expires_at LIMIT ${limit}`);
    return rows.map((row) => row.id);
  }

  // ReaperService, step 1: open uploads past their expiry become EXPIRED, a batch in one statement,
  // giving up their folder names and part plans, with `resultCode` for a complete that comes
  // later. Returns what storage still has to free. On files_uploading_expires_at_idx.
  async expireOverdueUploads(limit: number, resultCode: number): Promise<ExpiredUpload[]> {
    return this.prisma.sql.query<ExpiredUpload>(sql`
      WITH expired AS (
        UPDATE files
           SET status = 'EXPIRED', result_code = ${resultCode},
               result_detail = 'the upload expired before it was completed', updated_at = now()
         WHERE id IN (SELECT id FROM files
                       WHERE status = 'UPLOADING' AND expires_at < now()
                       ORDER BY expires_at LIMIT ${limit}
                         FOR UPDATE SKIP LOCKED)
           AND status = 'UPLOADING'
        RETURNING id, storage_key, upload_id
      ), names AS (DELETE FROM folder_entries WHERE file_id IN (SELECT id FROM expired)),
      plans AS (DELETE FROM file_parts WHERE file_id IN (SELECT id FROM expired))
      SELECT id, storage_key AS "storageKey", upload_id AS "uploadId" FROM expired`);
  }

  // ReaperService, step 2 (and its retry): expired files whose multipart upload is not yet
  // aborted, longest expired first. On files_expired_upload_updated_at_idx.
  async findExpiredWithUpload(limit: number): Promise<ExpiredUpload[]> {
    return this.prisma.sql.query<ExpiredUpload>(sql`
      SELECT id, storage_key AS "storageKey", upload_id AS "uploadId" FROM files
       WHERE status = 'EXPIRED' AND upload_id IS NOT NULL
       ORDER BY updated_at LIMIT ${limit}`);
  }

  // The expired file's multipart upload was aborted: nothing is left in storage (the row leaves
  // files_expired_upload_updated_at_idx).
  async markUploadFreed(id: string): Promise<void> {
    await this.prisma.sql.query(sql`UPDATE files SET upload_id = NULL, updated_at = now()
                                     WHERE id = ${id} AND status = 'EXPIRED'`);
  }

  // Open files by status (UPLOADING, COMPLETING), for the uploads-in-progress gauge: one count on
  // each status's partial index.
  async countOpenByStatus(): Promise<Record<'UPLOADING' | 'COMPLETING', number>> {
    const [row] = await this.prisma.sql.query<{ uploading: number; completing: number }>(sql`
      SELECT (SELECT count(*) FROM files WHERE status = 'UPLOADING')::int AS uploading,
             (SELECT count(*) FROM files WHERE status = 'COMPLETING')::int AS completing`);
    return { UPLOADING: row?.uploading ?? 0, COMPLETING: row?.completing ?? 0 };
  }
}
