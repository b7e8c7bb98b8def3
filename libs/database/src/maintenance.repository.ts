// What the background jobs scan and settle: lapsed completions, overdue uploads and their storage,
// and the counts of uploads in progress.
import { Injectable } from '@nestjs/common';
import { translateDatabaseErrors } from './database-errors.js';
import { PrismaService } from './prisma.service.js';

export interface ExpiredUpload {
  readonly id: string;
  readonly storageKey: string;
  readonly uploadId: string | null;
}

@Injectable()
export class MaintenanceRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Completions whose worker stopped renewing its lease (crashed, partitioned or gave up after a
  // dependency failed), oldest first.
  async findLapsedCompletions(limit: number): Promise<string[]> {
    const rows = await translateDatabaseErrors(() =>
      this.prisma.file.findMany({
        where: { status: 'COMPLETING', claimExpiresAt: { lt: new Date() } },
        select: { id: true },
        orderBy: { claimExpiresAt: 'asc' },
        take: limit,
      }),
    );
    return rows.map((row) => row.id);
  }

  // ReaperService, step 1: open uploads past their expiry become EXPIRED in one statement each batch,
  // giving up their folder names and part plans, with `resultCode` for a complete that comes
  // later. Returns what storage still has to free.
  async expireOverdueUploads(limit: number, resultCode: number): Promise<ExpiredUpload[]> {
    return translateDatabaseErrors(() =>
      this.prisma.$transaction(async (tx) => {
        const expired = await tx.$queryRaw<ExpiredUpload[]>`
          UPDATE files
             SET status = 'EXPIRED', result_code = ${resultCode},
                 result_detail = 'the upload expired before it was completed', updated_at = now()
           WHERE id IN (SELECT id FROM files
                         WHERE status = 'UPLOADING' AND expires_at < now()
                         ORDER BY expires_at LIMIT ${limit}
                           FOR UPDATE SKIP LOCKED)
             AND status = 'UPLOADING'
          RETURNING id, storage_key AS "storageKey", upload_id AS "uploadId"`;
        const ids = expired.map((file) => file.id);
        if (ids.length > 0) {
          await tx.folderEntry.deleteMany({ where: { fileId: { in: ids } } });
          await tx.filePart.deleteMany({ where: { fileId: { in: ids } } });
        }
        return expired;
      }),
    );
  }

  // ReaperService, step 2 (and its retry): expired files whose multipart upload is not yet aborted.
  async findExpiredWithUpload(limit: number): Promise<ExpiredUpload[]> {
    return translateDatabaseErrors(() =>
      this.prisma.file.findMany({
        where: { status: 'EXPIRED', uploadId: { not: null } },
        select: { id: true, storageKey: true, uploadId: true },
        orderBy: { updatedAt: 'asc' },
        take: limit,
      }),
    );
  }

  // The expired file's multipart upload was aborted: nothing is left in storage.
  async markUploadFreed(id: string): Promise<void> {
    await translateDatabaseErrors(() =>
      this.prisma.file.updateMany({ where: { id, status: 'EXPIRED' }, data: { uploadId: null } }),
    );
  }

  // Open files by status (UPLOADING, COMPLETING), for the uploads-in-progress gauge.
  async countOpenByStatus(): Promise<Record<'UPLOADING' | 'COMPLETING', number>> {
    const groups = await translateDatabaseErrors(() =>
      this.prisma.file.groupBy({
        by: ['status'],
        where: { status: { in: ['UPLOADING', 'COMPLETING'] } },
        _count: { _all: true },
      }),
    );
    const counts = { UPLOADING: 0, COMPLETING: 0 };
    for (const group of groups) {
      counts[group.status as keyof typeof counts] = group._count._all;
    }
    return counts;
  }
}
