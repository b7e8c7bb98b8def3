// A completion under its claim: every status change is one guarded statement naming the claim,
// so a worker whose claim was taken over changes nothing.
import { Injectable } from '@nestjs/common';
import { translateDatabaseErrors } from './database-errors.js';
import { type EventTrace, fileCompletedEvent } from './file-events.js';
import { toUploadFile } from './file-rows.js';
import { PrismaService } from './prisma.service.js';
import type { UploadFile } from './upload-file.js';

@Injectable()
export class CompletionRepository {
  constructor(private readonly prisma: PrismaService) {}

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
}
