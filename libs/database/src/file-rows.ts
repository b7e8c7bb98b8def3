// Rows as the repositories hand them on (plain values, no Prisma types), and the statement that
// records part plans, shared by create and uploadUrl.
import { Prisma, type FilePart as FilePartRow, type File as FileRow } from './generated/prisma/client.js';
import type { PartPlan, PartRecord, UploadFile } from './upload-file.js';

// One statement recording many part plans of the file `fileIdQuery` selects (its single row).
// A URL straight to storage clears a part's viaServiceOnly for good.
export function upsertPlans(fileIdQuery: Prisma.Sql, plans: readonly PartPlan[], viaService: boolean): Prisma.Sql {
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

export function toUploadFile(row: FileRow): UploadFile {
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

export function toPartRecord(row: FilePartRow): PartRecord {
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
