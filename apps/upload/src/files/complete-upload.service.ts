// complete: combine the parts, prove the combined object's SHA-256, record the outcome.
// Correctness rests on the database: a completion claim is a lease (status, claim counter and
// expiry in one guarded UPDATE) and every later write names its claim. Concurrent callers wait
// for the claim holder's recorded result instead of doing the work again.
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { FileRepository, type UploadFile } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { InvalidPartsError, OBJECT_STORAGE, type ObjectStorage, UploadNotFoundError } from '@koodrive/storage';
import type { CompleteUploadDto } from './dto/complete-upload.dto.js';
import { UPLOAD_TOKEN_METADATA } from './file-id.js';
import { sha256OfStream } from './object-digest.js';
import { describeIncompleteParts } from './part-rules.js';

export interface CompleteUploadResult {
  readonly fileId: string;
  readonly sha256: string;
  readonly length: number;
}

const POLL_MS = 100;

// Our claim was taken over (our lease ran out): what we were doing no longer counts.
class ClaimLostError extends Error {}

@Injectable()
export class CompleteUploadService {
  private readonly logger = new Logger(CompleteUploadService.name);

  constructor(
    private readonly files: FileRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async complete(principal: Principal, dto: CompleteUploadDto): Promise<CompleteUploadResult> {
    const deadline = Date.now() + this.config.upload.completeWaitSeconds * 1000;
    // the claim we saw another caller holding: its recorded result is our answer too
    let awaitedClaim: number | undefined;
    for (;;) {
      const file = await this.files.findForOwner(dto.fileId, principal.userId);
      if (file === null || file.status === 'EXPIRED') {
        throw ApiException.taskNotFound();
      }
      switch (file.status) {
        case 'COMPLETED':
          return recordedSuccess(file, dto.sha256);
        case 'FAILED':
          throw recordedFailure(file);
        case 'UPLOADING':
          if (awaitedClaim !== undefined && file.claim >= awaitedClaim && file.resultCode !== null) {
            throw recordedFailure(file);
          }
          if (file.expiresAt <= new Date()) {
            throw ApiException.taskNotFound();
          }
          break;
        case 'COMPLETING':
          if (file.claimExpiresAt !== null && file.claimExpiresAt > new Date()) {
            awaitedClaim = file.claim;
            if (Date.now() >= deadline) {
              throw new ApiException(ApiCode.StatusChangeFailed, {
                detail: 'another complete is still running; retry',
              });
            }
            await sleep(POLL_MS);
            continue;
          }
          break;
      }
      const claim = await this.files.claimForCompletion(
        file.id,
        principal.userId,
        this.config.upload.completeLeaseSeconds,
      );
      if (claim !== null) {
        return this.completeUnderClaim({ ...file, claim }, dto.sha256);
      }
      // another caller claimed it between our read and our claim: look again, within the deadline
      if (Date.now() >= deadline) {
        throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'the file is busy; retry' });
      }
      await sleep(POLL_MS);
    }
  }

  private async completeUnderClaim(
    file: UploadFile,
    requestedSha256: string | undefined,
  ): Promise<CompleteUploadResult> {
    const leaseMs = this.config.upload.completeLeaseSeconds * 1000;
    const heartbeat = setInterval(() => {
      this.files.renewLease(file.id, file.claim, this.config.upload.completeLeaseSeconds).catch((error: unknown) => {
        this.logger.warn({ msg: 'could not renew completion lease', fileId: file.id, err: error });
      });
    }, leaseMs / 3);
    try {
      if (file.combinedAt === null) {
        await this.combine(file);
      }
      return await this.verify(file, requestedSha256 ?? file.declaredSha256 ?? undefined);
    } catch (error) {
      if (error instanceof ClaimLostError) {
        throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'the file changed while completing; retry' });
      }
      if (!(error instanceof ApiException)) {
        // a dependency failed: end the lease so a retry can take over at once
        await this.files.abandonClaim(file.id, file.claim).catch(() => undefined);
      }
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  }

  // Lists the parts, checks them, and combines them into the object.
  private async combine(file: UploadFile): Promise<void> {
    if (file.uploadId === null) {
      throw new Error(`file ${file.id} is open but has no multipart upload`);
    }
    let parts;
    try {
      parts = await this.storage.listParts(file.storageKey, file.uploadId);
    } catch (error) {
      if (error instanceof UploadNotFoundError) {
        return this.settleVanishedUpload(file);
      }
      throw error;
    }
    const problem = describeIncompleteParts(parts, file.length);
    if (problem !== null) {
      await this.fenced(this.files.releaseWithResult(file.id, file.claim, ApiCode.UploadIncomplete, problem));
      throw new ApiException(ApiCode.UploadIncomplete, { detail: problem });
    }
    try {
      await this.storage.completeMultipartUpload(file.storageKey, file.uploadId, parts);
    } catch (error) {
      if (error instanceof UploadNotFoundError) {
        return this.settleVanishedUpload(file);
      }
      if (error instanceof InvalidPartsError) {
        const detail = 'the storage refused the parts; upload them again';
        await this.fenced(this.files.releaseWithResult(file.id, file.claim, ApiCode.UploadIncomplete, detail));
        throw new ApiException(ApiCode.UploadIncomplete, { detail });
      }
      throw error;
    }
    await this.fenced(this.files.markCombined(file.id, file.claim));
  }

  // The multipart upload is gone: combined by an earlier claim that could not record it, or
  // purged by the storage. Only our own object (our token, the right size) counts as combined.
  private async settleVanishedUpload(file: UploadFile): Promise<void> {
    const head = await this.storage.headObject(file.storageKey);
    if (head?.metadata[UPLOAD_TOKEN_METADATA] === file.uploadToken && head.size === file.length) {
      await this.fenced(this.files.markCombined(file.id, file.claim));
      return;
    }
    await this.fenced(
      this.files.markFailed(file.id, file.claim, ApiCode.TaskNotFound, 'the uploaded parts are gone from storage'),
    );
    throw ApiException.taskNotFound();
  }

  private async verify(file: UploadFile, expectedSha256: string | undefined): Promise<CompleteUploadResult> {
    const digest = await sha256OfStream(await this.storage.readObject(file.storageKey));
    if (digest.bytes !== file.length || (expectedSha256 !== undefined && digest.sha256 !== expectedSha256)) {
      const detail =
        digest.bytes !== file.length
          ? `the combined file holds ${digest.bytes} bytes, expected ${file.length}`
          : 'sha256 of the combined file does not match';
      // record the failure first: an object is only deleted once no claim can complete it
      await this.fenced(this.files.markFailed(file.id, file.claim, ApiCode.UploadIncomplete, detail));
      await this.storage.deleteObject(file.storageKey).catch((error: unknown) => {
        this.logger.warn({ msg: 'could not delete object of a failed file', fileId: file.id, err: error });
      });
      throw ApiException.integrityFailed(detail);
    }
    await this.fenced(this.files.markCompleted(file.id, file.claim, digest.sha256));
    return { fileId: file.id, sha256: digest.sha256, length: file.length };
  }

  private async fenced(write: Promise<boolean>): Promise<void> {
    if (!(await write)) {
      throw new ClaimLostError();
    }
  }
}

function recordedSuccess(file: UploadFile, requestedSha256: string | undefined): CompleteUploadResult {
  if (requestedSha256 !== undefined && requestedSha256 !== file.actualSha256) {
    throw ApiException.integrityFailed('sha256 differs from the completed file');
  }
  return { fileId: file.id, sha256: file.actualSha256 ?? '', length: file.length };
}

function recordedFailure(file: UploadFile): ApiException {
  const detail = file.resultDetail ?? undefined;
  switch (file.resultCode) {
    case ApiCode.TaskNotFound:
      return ApiException.taskNotFound();
    case ApiCode.UploadIncomplete:
      return file.status === 'FAILED'
        ? ApiException.integrityFailed(detail)
        : new ApiException(ApiCode.UploadIncomplete, { detail });
    default:
      return new ApiException(ApiCode.StatusChangeFailed, { detail });
  }
}
