// Rows as the repositories hand them on (plain values, no driver types): the columns selected for
// a file and for its parts, and the statement that records part plans, shared by create and uploadUrl.
import { raw, sql, type SqlFragment } from './sql.js';
import type { PartPlan, PartRecord, UploadFile } from './upload-file.js';

// A file row as `fileColumns` selects it: an UploadFile whose length is pg's int8, a string.
export type FileRow = Omit<UploadFile, 'length'> & { readonly length: string };

// The columns of a FileRow, from the files row (or row set) named `from`.
export function fileColumns(from: string): SqlFragment {
  const c = (column: string, alias?: string) => `${from}.${column}${alias === undefined ? '' : ` AS "${alias}"`}`;
  return raw(
    [
      c('id'),
      c('owner_id', 'ownerId'),
      c('container_id', 'containerId'),
      c('parent_folder', 'parentFolder'),
      c('file_name', 'fileName'),
      c('length'),
      c('declared_sha256', 'declaredSha256'),
      c('actual_sha256', 'actualSha256'),
      c('storage_key', 'storageKey'),
      c('upload_id', 'uploadId'),
      c('upload_token', 'uploadToken'),
      c('rapid_upload', 'rapidUpload'),
      c('share_folder_id', 'shareFolderId'),
      c('status'),
      c('claim'),
      c('claim_expires_at', 'claimExpiresAt'),
      c('claim_traceid', 'claimTraceid'),
      c('expected_sha256', 'expectedSha256'),
      c('combined_at', 'combinedAt'),
      c('chain_sha256', 'chainSha256'),
      c('result_code', 'resultCode'),
      c('result_detail', 'resultDetail'),
      c('expires_at', 'expiresAt'),
      c('completed_at', 'completedAt'),
      c('revision_of', 'revisionOf'),
      c('revision_id', 'revisionId'),
      c('revision_version', 'revisionVersion'),
      c('keep_policy', 'keepPolicy'),
    ].join(', '),
  );
}

export function toUploadFile(row: FileRow): UploadFile {
  return { ...row, length: Number(row.length) };
}

// A part row as PART_COLUMNS selects it (int8 as a string, or a number inside JSON).
export interface PartRow {
  readonly partNumber: number;
  readonly partSize: string | number;
  readonly partOffset: string | number | null;
  readonly hashCtx: string | null;
  readonly viaServiceOnly: boolean;
  readonly uploadedEtag: string | null;
  readonly uploadedSize: string | number | null;
  readonly hashedFrom: string | null;
  readonly hashedTo: string | null;
  readonly hashedSha256: string | null;
}

export const PART_COLUMNS = raw(`part_number AS "partNumber", part_size AS "partSize", part_offset AS "partOffset",
  hash_ctx AS "hashCtx", via_service_only AS "viaServiceOnly", uploaded_etag AS "uploadedEtag",
  uploaded_size AS "uploadedSize", hashed_from AS "hashedFrom", hashed_to AS "hashedTo",
  hashed_sha256 AS "hashedSha256"`);

export function toPartRecord(row: PartRow): PartRecord {
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

// One statement recording many part plans of the file `fileIdQuery` selects (its single row).
// A URL straight to storage clears a part's viaServiceOnly for good. The columns go as array
// literals written here (numbers, and hashCtx's base64, need no quoting): pg's own encoding of a
// JavaScript array escapes each element, and a 10,000-part request has 40,000 of them.
export function upsertPlans(fileIdQuery: SqlFragment, plans: readonly PartPlan[], viaService: boolean): SqlFragment {
  return sql`
    INSERT INTO file_parts (file_id, part_number, part_size, part_offset, hash_ctx, requested_at, via_service_only)
    SELECT f.id, p.part_number, p.part_size, p.part_offset, p.hash_ctx, now(), ${viaService}
      FROM (${fileIdQuery}) AS f(id),
           unnest(${arrayLiteral(plans, (p) => p.partNumber)}::int[],
                  ${arrayLiteral(plans, (p) => p.partSize)}::bigint[],
                  ${arrayLiteral(plans, (p) => p.partOffset)}::bigint[],
                  ${arrayLiteral(plans, (p) => p.hashCtx)}::text[])
             AS p(part_number, part_size, part_offset, hash_ctx)
    ON CONFLICT (file_id, part_number) DO UPDATE
       SET part_size = EXCLUDED.part_size, part_offset = EXCLUDED.part_offset, hash_ctx = EXCLUDED.hash_ctx,
           requested_at = EXCLUDED.requested_at,
           via_service_only = file_parts.via_service_only AND EXCLUDED.via_service_only
     -- a plan asked for again as it stands is left as it is (no row version written)
     WHERE (file_parts.part_size, file_parts.part_offset, file_parts.hash_ctx)
             IS DISTINCT FROM (EXCLUDED.part_size, EXCLUDED.part_offset, EXCLUDED.hash_ctx)
        OR (file_parts.via_service_only AND NOT EXCLUDED.via_service_only)`;
}

// A PostgreSQL int[] literal of these numbers.
export function intArrayLiteral(numbers: readonly number[]): string {
  return arrayLiteral(numbers, (n) => n);
}

// A PostgreSQL array literal of values that need no quoting (integers; base64 text), or NULL.
const BARE_ELEMENT = /^[A-Za-z0-9+/=.-]+$/;

function arrayLiteral<T>(items: readonly T[], value: (item: T) => number | string | null): string {
  const elements = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const element = value(items[i]!);
    if (element === null) {
      elements[i] = 'NULL';
    } else if (typeof element === 'number' ? Number.isSafeInteger(element) : BARE_ELEMENT.test(element)) {
      elements[i] = String(element);
    } else {
      throw new Error(`${JSON.stringify(element)} cannot be written bare in an array literal`);
    }
  }
  return `{${elements.join(',')}}`;
}
