// Upload tasks as create, uploadUrl and complete find and record them: the file, its name in its
// folder, its part plans; and completed content for flash uploads.
import { Injectable } from '@nestjs/common';
import { isUniqueViolation, translateDatabaseErrors } from './database-errors.js';
import { type EventTrace, fileCompletedEvent } from './file-events.js';
import { toPartRecord, toUploadFile, upsertPlans } from './file-rows.js';
import { Prisma } from './generated/prisma/client.js';
import { PrismaService } from './prisma.service.js';
import type { NewUploadFile, PartPlan, PartRecord, UploadFile } from './upload-file.js';

export class FileNameTakenError extends Error {
  constructor() {
    super('file name taken in folder');
    this.name = 'FileNameTakenError';
  }
}

// verifiedBy of a flash-upload copy: its digest is that of the verified file it points at
const COPIED_FROM_VERIFIED = 'copy';

export interface CompletedMatch {
  readonly id: string;
  readonly storageKey: string;
}

@Injectable()
export class UploadTaskRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Inserts the file, takes its name in the folder and records the parts planned at create, in one
  // transaction; FileNameTakenError when the name is held. `viaService`: the parts' URLs point at
  // the service (see savePartPlans).
  async createUpload(file: NewUploadFile, plans: readonly PartPlan[] = [], viaService = false): Promise<void> {
    await this.createWithEntry(file, {}, undefined, { plans, viaService });
  }

  // A file whose content the service already holds (flash upload): completed at once.
  async createCompletedCopy(file: NewUploadFile, sha256: string, trace: EventTrace): Promise<void> {
    await this.createWithEntry(
      file,
      {
        status: 'COMPLETED',
        actualSha256: sha256,
        rapidUpload: true,
        completedAt: new Date(),
        verifiedBy: COPIED_FROM_VERIFIED,
      },
      trace,
    );
  }

  async findForOwner(id: string, ownerId: string): Promise<UploadFile | null> {
    const row = await translateDatabaseErrors(() => this.prisma.file.findFirst({ where: { id, ownerId } }));
    return row === null ? null : toUploadFile(row);
  }

  async isNameTaken(containerId: string, parentFolder: string, fileName: string): Promise<boolean> {
    const entry = await translateDatabaseErrors(() =>
      this.prisma.folderEntry.findUnique({
        where: { containerId_parentFolder_fileName: { containerId, parentFolder, fileName } },
        select: { fileId: true },
      }),
    );
    return entry !== null;
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
    const entry = await translateDatabaseErrors(() =>
      this.prisma.folderEntry.findUnique({
        where: { containerId_parentFolder_fileName: { containerId, parentFolder, fileName } },
        select: { file: { select: { id: true, status: true, actualSha256: true, ownerId: true } } },
      }),
    );
    const file = entry?.file;
    const owned = ownerId === undefined || file?.ownerId === ownerId;
    return file?.status === 'COMPLETED' && file.actualSha256 === sha256 && owned ? file.id : null;
  }

  // Completed content with this digest and length whose digest the service established from the
  // stored bytes (verifiedBy set): in this container, or (containerId undefined) in any.
  async findCompletedContent(
    containerId: string | undefined,
    sha256: string,
    length: number,
  ): Promise<CompletedMatch | null> {
    return translateDatabaseErrors(() =>
      this.prisma.file.findFirst({
        where: {
          containerId,
          actualSha256: sha256,
          length: BigInt(length),
          status: 'COMPLETED',
          verifiedBy: { not: null },
        },
        select: { id: true, storageKey: true },
        orderBy: { completedAt: 'asc' },
      }),
    );
  }

  // The parts planned so far, in part-number order, with what the service hashed of those it uploaded.
  async listPartPlans(fileId: string): Promise<PartRecord[]> {
    const rows = await translateDatabaseErrors(() =>
      this.prisma.filePart.findMany({ where: { fileId }, orderBy: { partNumber: 'asc' } }),
    );
    return rows.map(toPartRecord);
  }

  // Records (or re-records, on a retry) the parts a client asked URLs for, in one statement, while
  // the file is open. `viaService`: the URLs point at the service; a URL straight to storage clears
  // the part's viaServiceOnly for good. The file row is share-locked, so a completion claim either
  // sees these plans or made this statement find the file no longer open (false).
  async savePartPlans(fileId: string, parts: readonly PartPlan[], viaService: boolean): Promise<boolean> {
    const rows = await translateDatabaseErrors(
      () => this.prisma.$queryRaw<{ n: number }[]>`
        WITH open AS (
          SELECT id FROM files
           WHERE id = ${fileId} AND status = 'UPLOADING' AND expires_at > now()
             FOR SHARE
        ), saved AS (${upsertPlans(Prisma.sql`SELECT id FROM open`, parts, viaService)} RETURNING 1)
        SELECT (SELECT count(*) FROM open)::int AS n`,
    );
    return rows[0]?.n === 1;
  }

  private async createWithEntry(
    file: NewUploadFile,
    extra: {
      status?: 'COMPLETED';
      actualSha256?: string;
      rapidUpload?: boolean;
      completedAt?: Date;
      verifiedBy?: string;
    },
    completedTrace?: EventTrace,
    parts?: { plans: readonly PartPlan[]; viaService: boolean },
  ): Promise<void> {
    try {
      await translateDatabaseErrors(() =>
        this.prisma.$transaction(async (tx) => {
          const row = await tx.file.create({
            data: {
              id: file.id,
              ownerId: file.ownerId,
              containerId: file.containerId,
              parentFolder: file.parentFolder,
              fileName: file.fileName,
              length: BigInt(file.length),
              declaredSha256: file.declaredSha256 ?? null,
              preHash: file.preHash ?? null,
              shareFolderId: file.shareFolderId ?? null,
              fileType: file.fileType ?? null,
              mimeType: file.mimeType ?? null,
              description: file.description ?? null,
              clientCreatedAt: file.clientCreatedAt ?? null,
              storageKey: file.storageKey,
              uploadId: file.uploadId,
              uploadToken: file.uploadToken,
              expiresAt: file.expiresAt,
              ...extra,
              entry: {
                create: { containerId: file.containerId, parentFolder: file.parentFolder, fileName: file.fileName },
              },
            },
          });
          if (completedTrace !== undefined) {
            await tx.outboxEvent.create({ data: fileCompletedEvent(row, completedTrace) });
          }
          if (parts !== undefined && parts.plans.length > 0) {
            await tx.$executeRaw(upsertPlans(Prisma.sql`SELECT ${row.id}`, parts.plans, parts.viaService));
          }
        }),
      );
    } catch (error) {
      throw isUniqueViolation(error) ? new FileNameTakenError() : error;
    }
  }
}
