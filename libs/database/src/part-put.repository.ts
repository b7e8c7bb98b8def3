// The part put lease: one PUT through the service at a time per part, and what it hashed recorded
// under its put_seq (see README, "What verified means here").
import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';
import { sql } from './sql.js';
import type { PartPut, UploadedPartHash } from './upload-file.js';

// Why a PUT could not take a part's lease: no such open file and planned part, another PUT holds
// it, or the body is not the planned size.
export type PartPutRefusal = 'not-open' | 'busy' | { readonly wrongSize: number };

interface PartPutRow {
  readonly partSize: string;
  readonly partOffset: string | null;
  readonly hashCtx: string | null;
  readonly open: boolean;
  readonly ownerId: string;
  readonly storageKey: string;
  readonly uploadId: string | null;
  readonly length: string;
  readonly seq: number | null;
}

@Injectable()
export class PartPutRepository {
  constructor(private readonly prisma: PrismaService) {}

  // A PUT through the service takes the part's put lease, in one statement, while the file is open
  // (its row share-locked, so a completion claim either waits for this or makes it find the file
  // closed), its body is the planned size and no other PUT holds the lease. What an earlier PUT
  // recorded is cleared: the part counts as hashed only once this PUT records what it hashed
  // (recordPartPut, under `seq`). Taking over a lease its PUT never released (a process that died
  // or stalled mid-upload) marks the part to be read back for good: that PUT's bytes may still land.
  // The lease is judged on the part's row as the UPDATE finds it (`p`), never on `target`'s copy:
  // a PUT whose statement began before another's lease was committed waits for that row, and
  // PostgreSQL then checks the UPDATE's conditions on the row as it is now, but `target` keeps what
  // the statement first saw (no lease), so two PUTs both took it.
  async beginPartPut(
    fileId: string,
    partNumber: number,
    bodyBytes: number,
    leaseSeconds: number,
  ): Promise<PartPut | PartPutRefusal> {
    const rows = await this.prisma.sql.query<PartPutRow>(sql`
        WITH target AS (
          SELECT p.file_id, p.part_number, p.part_size, p.part_offset, p.hash_ctx,
                 f.status, f.expires_at, f.owner_id, f.storage_key, f.upload_id, f.length
            FROM file_parts p JOIN files f ON f.id = p.file_id
           WHERE p.file_id = ${fileId} AND p.part_number = ${partNumber}
             FOR SHARE OF f
        ), taken AS (
          UPDATE file_parts p
             SET put_seq = p.put_seq + 1, put_lease_until = now() + make_interval(secs => ${leaseSeconds}),
                 via_service_only = p.via_service_only AND p.put_lease_until IS NULL,
                 uploaded_etag = NULL, uploaded_size = NULL, hashed_from = NULL, hashed_to = NULL,
                 hashed_sha256 = NULL, uploaded_at = NULL
            FROM target t
           WHERE p.file_id = t.file_id AND p.part_number = t.part_number
             AND t.status = 'UPLOADING' AND t.expires_at > now() AND t.upload_id IS NOT NULL
             AND t.part_size = ${bodyBytes}
             AND (p.put_lease_until IS NULL OR p.put_lease_until < now())
          RETURNING p.put_seq
        )
        SELECT t.part_size AS "partSize", t.part_offset AS "partOffset", t.hash_ctx AS "hashCtx",
               t.status = 'UPLOADING' AND t.expires_at > now() AND t.upload_id IS NOT NULL AS "open",
               t.owner_id AS "ownerId", t.storage_key AS "storageKey", t.upload_id AS "uploadId",
               t.length, (SELECT put_seq FROM taken) AS seq
          FROM target t`);
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
    const rows = await this.prisma.sql.query(sql`
        UPDATE file_parts SET put_lease_until = now() + make_interval(secs => ${leaseSeconds})
         WHERE file_id = ${fileId} AND part_number = ${partNumber} AND put_seq = ${seq}
           AND put_lease_until IS NOT NULL
        RETURNING 1`);
    return rows.length === 1;
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
    const rows = await this.prisma.sql.query(sql`
      UPDATE file_parts p
         SET put_lease_until = NULL, uploaded_etag = ${hash?.etag ?? null}, uploaded_size = ${hash?.size ?? null},
             hashed_from = ${hash?.hashedFrom ?? null}, hashed_to = ${hash?.hashedTo ?? null},
             hashed_sha256 = ${hash?.sha256 ?? null}, uploaded_at = ${hash === null ? null : sql`now()`}
        FROM files f
       WHERE p.file_id = ${fileId} AND p.part_number = ${partNumber} AND p.put_seq = ${seq}
         AND f.id = p.file_id AND f.status = 'UPLOADING'
      RETURNING 1`);
    return rows.length === 1;
  }

  // The PUT `seq` failed: its lease ends at once. `streamed`: it had begun sending bytes to storage,
  // which may still take them (a request given up on is not a request undone), so the part is
  // read back for good.
  async endPartPut(fileId: string, partNumber: number, seq: number, streamed: boolean): Promise<void> {
    await this.prisma.sql.query(sql`
      UPDATE file_parts SET put_lease_until = NULL, via_service_only = via_service_only AND NOT ${streamed}
       WHERE file_id = ${fileId} AND part_number = ${partNumber} AND put_seq = ${seq}`);
  }

  // A PUT that could not record what it stored (the part taken over, the file closed) may still have
  // put its bytes there: whatever the part records no longer says what storage holds, so the part
  // is read back for good.
  async forgetPartHash(fileId: string, partNumber: number): Promise<void> {
    await this.prisma.sql.query(sql`
      UPDATE file_parts
         SET via_service_only = false, uploaded_etag = NULL, uploaded_size = NULL, hashed_from = NULL,
             hashed_to = NULL, hashed_sha256 = NULL, uploaded_at = NULL
       WHERE file_id = ${fileId} AND part_number = ${partNumber}`);
  }
}
