// Files and their part plans. Every status change is one guarded statement; writes made under a
// completion claim name that claim, so a worker whose claim was taken over changes nothing.
import { Injectable } from '@nestjs/common';
import { ApiCode } from '@koodrive/errors';
import { isUniqueViolation, translateDatabaseErrors } from './database-errors.js';
import { Prisma, type FilePart as FilePartRow, type File as FileRow } from './generated/prisma/client.js';
import { PrismaService } from './prisma.service.js';
import type { NewUploadFile, PartPlan, PartPut, PartRecord, UploadedPartHash, UploadFile } from './upload-file.js';

export class FileNameTakenError extends Error {
  constructor() {
    super('file name taken in folder');
    this.name = 'FileNameTakenError';
  }
}

// what a complete on an expired upload answers
const EXPIRED_RESULT_CODE: number = ApiCode.TaskNotFound;

export interface ExpiredUpload {
  readonly id: string;
  readonly storageKey: string;
  readonly uploadId: string | null;
}

// Where an event came from: the W3C trace id of the operation and the client's X-Traceid.
export interface EventTrace {
  readonly traceId: string | undefined;
  readonly xTraceid: string | null;
}

export const FILE_COMPLETED = 'file.completed';

// verifiedBy of a flash-upload copy: its digest is that of the verified file it points at
const COPIED_FROM_VERIFIED = 'copy';

function fileCompletedEvent(row: FileRow, trace: EventTrace) {
  return {
    type: FILE_COMPLETED,
    fileId: row.id,
    traceId: trace.traceId ?? null,
    xTraceid: trace.xTraceid,
    payload: {
      fileId: row.id,
      ownerId: row.ownerId,
      containerId: row.containerId,
      parentFolder: row.parentFolder,
      fileName: row.fileName,
      length: Number(row.length),
      sha256: row.actualSha256,
      storageKey: row.storageKey,
      rapidUpload: row.rapidUpload,
      completedAt: row.completedAt?.toISOString() ?? null,
    },
  };
}

// Why a PUT could not take a part's lease: no such open file and planned part, another PUT holds
// it, or the body is not the planned size.
export type PartPutRefusal = 'not-open' | 'busy' | { readonly wrongSize: number };

interface PartPutRow {
  readonly partSize: bigint;
  readonly partOffset: bigint | null;
  readonly hashCtx: string | null;
  readonly open: boolean;
  readonly ownerId: string;
  readonly storageKey: string;
  readonly uploadId: string | null;
  readonly length: bigint;
  readonly seq: number | null;
}

export interface CompletedMatch {
  readonly id: string;
  readonly storageKey: string;
}

@Injectable()
export class FileRepository {
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

  // A PUT through the service takes the part's put lease, in one statement, while the file is open
  // (its row share-locked, so a completion claim either waits for this or makes it find the file
  // closed), its body is the planned size and no other PUT holds the lease. What an earlier PUT
  // recorded is cleared: the part counts as hashed only once this PUT records what it hashed
  // (recordPartPut, under `seq`). Taking over a lease its PUT never released (a process that died
  // or stalled mid-upload) marks the part to be read back for good: that PUT's bytes may still land.
  async beginPartPut(
    fileId: string,
    partNumber: number,
    bodyBytes: number,
    leaseSeconds: number,
  ): Promise<PartPut | PartPutRefusal> {
    const rows = await translateDatabaseErrors(
      () => this.prisma.$queryRaw<PartPutRow[]>`
        WITH target AS (
          SELECT p.file_id, p.part_number, p.part_size, p.part_offset, p.hash_ctx, p.put_lease_until,
                 f.status, f.expires_at, f.owner_id, f.storage_key, f.upload_id, f.length
            FROM file_parts p JOIN files f ON f.id = p.file_id
           WHERE p.file_id = ${fileId} AND p.part_number = ${partNumber}
             FOR SHARE OF f
        ), taken AS (
          UPDATE file_parts p
             SET put_seq = p.put_seq + 1, put_lease_until = now() + make_interval(secs => ${leaseSeconds}),
                 via_service_only = p.via_service_only AND t.put_lease_until IS NULL,
                 uploaded_etag = NULL, uploaded_size = NULL, hashed_from = NULL, hashed_to = NULL,
                 hashed_sha256 = NULL, uploaded_at = NULL
            FROM target t
           WHERE p.file_id = t.file_id AND p.part_number = t.part_number
             AND t.status = 'UPLOADING' AND t.expires_at > now() AND t.upload_id IS NOT NULL
             AND t.part_size = ${bodyBytes}
             AND (t.put_lease_until IS NULL OR t.put_lease_until < now())
          RETURNING p.put_seq
        )
        SELECT t.part_size AS "partSize", t.part_offset AS "partOffset", t.hash_ctx AS "hashCtx",
               t.status = 'UPLOADING' AND t.expires_at > now() AND t.upload_id IS NOT NULL AS "open",
               t.owner_id AS "ownerId", t.storage_key AS "storageKey", t.upload_id AS "uploadId",
               t.length, (SELECT put_seq FROM taken) AS seq
          FROM target t`,
    );
    const row = rows[0];
    if (row === undefined || !row.open || row.uploadId === null) {
      return 'not-open';
    }
    if (row.seq === null) {
      return Number(row.partSize) === bodyBytes ? 'busy' : { wrongSize: Number(row.partSize) };
    }
    return {
      seq: row.seq,
      file: {
        id: fileId,
        ownerId: row.ownerId,
        storageKey: row.storageKey,
        uploadId: row.uploadId,
        length: Number(row.length),
      },
      part: {
        partNumber,
        partSize: Number(row.partSize),
        partOffset: row.partOffset === null ? null : Number(row.partOffset),
        hashCtx: row.hashCtx,
      },
    };
  }

  // Pushes the put lease on (by the database's clock) while the PUT runs; false when it is no
  // longer this PUT's.
  async renewPartPut(fileId: string, partNumber: number, seq: number, leaseSeconds: number): Promise<boolean> {
    const count = await translateDatabaseErrors(
      () => this.prisma.$executeRaw`
        UPDATE file_parts SET put_lease_until = now() + make_interval(secs => ${leaseSeconds})
         WHERE file_id = ${fileId} AND part_number = ${partNumber} AND put_seq = ${seq}
           AND put_lease_until IS NOT NULL`,
    );
    return count === 1;
  }

  // The PUT `seq` stored the part: records what it hashed (null: it had no state to start from, so
  // the part will be read back) and ends its lease, in one statement naming the PUT, while the
  // file is open. False when another PUT took the part over or the file moved on.
  async recordPartPut(
    fileId: string,
    partNumber: number,
    seq: number,
    hash: UploadedPartHash | null,
  ): Promise<boolean> {
    const { count } = await translateDatabaseErrors(() =>
      this.prisma.filePart.updateMany({
        where: { fileId, partNumber, putSeq: seq, file: { status: 'UPLOADING' } },
        data: {
          putLeaseUntil: null,
          uploadedEtag: hash?.etag ?? null,
          uploadedSize: hash === null ? null : BigInt(hash.size),
          hashedFrom: hash?.hashedFrom ?? null,
          hashedTo: hash?.hashedTo ?? null,
          hashedSha256: hash?.sha256 ?? null,
          uploadedAt: hash === null ? null : new Date(),
        },
      }),
    );
    return count === 1;
  }

  // The PUT `seq` failed: its lease ends at once. `streamed`: it had begun sending bytes to storage,
  // which may still take them (a request given up on is not a request undone), so the part is
  // read back for good.
  async endPartPut(fileId: string, partNumber: number, seq: number, streamed: boolean): Promise<void> {
    await translateDatabaseErrors(
      () => this.prisma.$executeRaw`
        UPDATE file_parts SET put_lease_until = NULL, via_service_only = via_service_only AND NOT ${streamed}
         WHERE file_id = ${fileId} AND part_number = ${partNumber} AND put_seq = ${seq}`,
    );
  }

  // A PUT that could not record what it stored (the part taken over, the file closed) may still have
  // put its bytes there: whatever the part records no longer says what storage holds, so the part
  // is read back for good.
  async forgetPartHash(fileId: string, partNumber: number): Promise<void> {
    await translateDatabaseErrors(() =>
      this.prisma.filePart.updateMany({
        where: { fileId, partNumber },
        data: {
          viaServiceOnly: false,
          uploadedEtag: null,
          uploadedSize: null,
          hashedFrom: null,
          hashedTo: null,
          hashedSha256: null,
          uploadedAt: null,
        },
      }),
    );
  }

  // Takes the completion lease: from an open file, or from a claim whose lease ran out. Records the
  // digest this completion must reach and the request's X-Traceid, so whoever finishes the
  // completion (this caller, a retry or the reconciler) checks the same thing and tells the same trace.
  // Returns the new claim number, or null when the file is not claimable now.
  async claimForCompletion(
    id: string,
    ownerId: string,
    leaseSeconds: number,
    expectedSha256: string | null,
    xTraceid: string | null,
  ): Promise<number | null> {
    const rows = await translateDatabaseErrors(
      () => this.prisma.$queryRaw<{ claim: number }[]>`
        UPDATE files
           SET status = 'COMPLETING', claim = claim + 1,
               claim_expires_at = now() + make_interval(secs => ${leaseSeconds}),
               expected_sha256 = ${expectedSha256}, claim_traceid = ${xTraceid}, updated_at = now()
         WHERE id = ${id} AND owner_id = ${ownerId} AND expires_at > now()
           AND (status = 'UPLOADING' OR (status = 'COMPLETING' AND claim_expires_at < now()))
        RETURNING claim`,
    );
    return rows[0]?.claim ?? null;
  }

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

  // The reconciler's claim: only on a lapsed lease, keeping the digest and X-Traceid of the
  // request that started the completion. Past the upload's expiry too: a completion that was
  // started in time is finished (or rolled back) rather than left half done.
  async claimLapsedCompletion(id: string, leaseSeconds: number): Promise<UploadFile | null> {
    const rows = await translateDatabaseErrors(
      () => this.prisma.$queryRaw<{ claim: number }[]>`
        UPDATE files
           SET claim = claim + 1, claim_expires_at = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
         WHERE id = ${id} AND status = 'COMPLETING' AND claim_expires_at < now()
        RETURNING claim`,
    );
    const claim = rows[0]?.claim;
    if (claim === undefined) {
      return null;
    }
    const row = await translateDatabaseErrors(() => this.prisma.file.findUnique({ where: { id } }));
    return row === null || row.claim !== claim ? null : toUploadFile(row);
  }

  async renewLease(id: string, claim: number, leaseSeconds: number): Promise<boolean> {
    return this.fenced(id, claim, { claimExpiresAt: new Date(Date.now() + leaseSeconds * 1000) });
  }

  // The parts are combined; `chainSha256` is the digest their hash chain proved, when it did.
  async markCombined(id: string, claim: number, chainSha256: string | null = null): Promise<boolean> {
    return this.fenced(id, claim, { combinedAt: new Date(), chainSha256 });
  }

  // Completed, and the file.completed event in the same transaction: the event exists exactly
  // when the status does. `verifiedBy`: how the digest of the stored bytes was established.
  async markCompleted(
    id: string,
    claim: number,
    verified: { sha256: string; by: string },
    trace: EventTrace,
  ): Promise<boolean> {
    return translateDatabaseErrors(() =>
      this.prisma.$transaction(async (tx) => {
        const completedAt = new Date();
        const { count } = await tx.file.updateMany({
          where: { id, claim, status: 'COMPLETING' },
          data: {
            status: 'COMPLETED',
            actualSha256: verified.sha256,
            verifiedBy: verified.by,
            completedAt,
            claimExpiresAt: null,
            resultCode: null,
            resultDetail: null,
          },
        });
        if (count !== 1) {
          return false;
        }
        const row = await tx.file.findUniqueOrThrow({ where: { id } });
        await tx.outboxEvent.create({ data: fileCompletedEvent(row, trace) });
        return true;
      }),
    );
  }

  // Back to UPLOADING with the reason, so the client can fix its parts and complete again.
  async releaseWithResult(id: string, claim: number, resultCode: number, resultDetail: string): Promise<boolean> {
    return this.fenced(id, claim, { status: 'UPLOADING', claimExpiresAt: null, resultCode, resultDetail });
  }

  // Ends the lease early (a dependency failed): the next complete may take over at once.
  async abandonClaim(id: string, claim: number): Promise<boolean> {
    return this.fenced(id, claim, { claimExpiresAt: new Date() });
  }

  // Terminal failure; the file gives up its name in the folder.
  async markFailed(id: string, claim: number, resultCode: number, resultDetail: string): Promise<boolean> {
    return translateDatabaseErrors(() =>
      this.prisma.$transaction(async (tx) => {
        const { count } = await tx.file.updateMany({
          where: { id, claim, status: 'COMPLETING' },
          data: { status: 'FAILED', claimExpiresAt: null, resultCode, resultDetail },
        });
        if (count === 1) {
          await tx.folderEntry.deleteMany({ where: { fileId: id } });
        }
        return count === 1;
      }),
    );
  }

  // Reaper, step 1: open uploads past their expiry become EXPIRED in one statement each batch,
  // giving up their folder names and part plans. Returns what storage still has to free.
  async expireOverdueUploads(limit: number): Promise<ExpiredUpload[]> {
    return translateDatabaseErrors(() =>
      this.prisma.$transaction(async (tx) => {
        const expired = await tx.$queryRaw<ExpiredUpload[]>`
          UPDATE files
             SET status = 'EXPIRED', result_code = ${EXPIRED_RESULT_CODE},
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

  // Reaper, step 2 (and its retry): expired files whose multipart upload is not yet aborted.
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

  private async fenced(
    id: string,
    claim: number,
    data: Parameters<PrismaService['file']['updateMany']>[0]['data'],
  ): Promise<boolean> {
    const { count } = await translateDatabaseErrors(() =>
      this.prisma.file.updateMany({ where: { id, claim, status: 'COMPLETING' }, data }),
    );
    return count === 1;
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

// One statement recording many part plans of the file `fileIdQuery` selects (its single row).
// A URL straight to storage clears a part's viaServiceOnly for good.
function upsertPlans(fileIdQuery: Prisma.Sql, plans: readonly PartPlan[], viaService: boolean): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO file_parts (file_id, part_number, part_size, part_offset, hash_ctx, requested_at, via_service_only)
    SELECT f.id, p.part_number, p.part_size, p.part_offset, p.hash_ctx, now(), ${viaService}
      FROM (${fileIdQuery}) AS f(id),
           unnest(${plans.map((p) => p.partNumber)}::int[], ${plans.map((p) => p.partSize)}::bigint[],
                  ${plans.map((p) => p.partOffset)}::bigint[], ${plans.map((p) => p.hashCtx)}::text[])
             AS p(part_number, part_size, part_offset, hash_ctx)
    ON CONFLICT (file_id, part_number) DO UPDATE
       SET part_size = EXCLUDED.part_size, part_offset = EXCLUDED.part_offset, hash_ctx = EXCLUDED.hash_ctx,
           requested_at = EXCLUDED.requested_at,
           via_service_only = file_parts.via_service_only AND EXCLUDED.via_service_only`;
}

function toUploadFile(row: FileRow): UploadFile {
  return {
    id: row.id,
    ownerId: row.ownerId,
    containerId: row.containerId,
    parentFolder: row.parentFolder,
    fileName: row.fileName,
    length: Number(row.length),
    declaredSha256: row.declaredSha256,
    actualSha256: row.actualSha256,
    storageKey: row.storageKey,
    uploadId: row.uploadId,
    uploadToken: row.uploadToken,
    rapidUpload: row.rapidUpload,
    shareFolderId: row.shareFolderId,
    status: row.status,
    claim: row.claim,
    claimExpiresAt: row.claimExpiresAt,
    claimTraceid: row.claimTraceid,
    expectedSha256: row.expectedSha256,
    combinedAt: row.combinedAt,
    chainSha256: row.chainSha256,
    resultCode: row.resultCode,
    resultDetail: row.resultDetail,
    expiresAt: row.expiresAt,
    completedAt: row.completedAt,
  };
}

function toPartRecord(row: FilePartRow): PartRecord {
  return {
    partNumber: row.partNumber,
    partSize: Number(row.partSize),
    partOffset: row.partOffset === null ? null : Number(row.partOffset),
    hashCtx: row.hashCtx,
    viaServiceOnly: row.viaServiceOnly,
    uploaded:
      row.uploadedEtag === null || row.uploadedSize === null || row.hashedFrom === null
        ? null
        : {
            etag: row.uploadedEtag,
            size: Number(row.uploadedSize),
            hashedFrom: row.hashedFrom,
            hashedTo: row.hashedTo,
            sha256: row.hashedSha256,
          },
  };
}
