// complete: take the file's completion claim and run the completion, or wait for the caller that
// holds it and give its recorded answer. Concurrent and repeated completes do the work once.
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { CompletionRepository, UploadTaskRepository, type UploadFile } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { ClaimLostError, type CompleteUploadResult, CompletionRunner } from './completion-runner.js';
import type { CompleteUploadDto } from './dto/complete-upload.dto.js';
import { callersFile } from './open-file.js';

export type { CompleteUploadResult } from './completion-runner.js';

const POLL_MS = 100;

@Injectable()
export class CompleteUploadService {
  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly completions: CompletionRepository,
    private readonly runner: CompletionRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async complete(principal: Principal, dto: CompleteUploadDto, xTraceid: string): Promise<CompleteUploadResult> {
    const deadline = Date.now() + this.config.upload.completeWaitSeconds * 1000;
    // a claim we saw another caller take (or that took ours over): its recorded result is our answer
    let awaitedClaim: number | undefined;
    for (;;) {
      const file = callersFile(principal, await this.tasks.findForOwner(dto.fileId, principal.userId));
      if (file.status === 'EXPIRED') {
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
            await this.pause(deadline, 'another complete is still running; retry');
            continue;
          }
          break;
      }
      const expectedSha256 = dto.sha256 ?? file.declaredSha256;
      const claim = await this.completions.claimForCompletion(
        file.id,
        principal.userId,
        this.config.upload.completeLeaseSeconds,
        expectedSha256,
        xTraceid,
      );
      if (claim !== null) {
        try {
          return await this.runner.run({ ...file, claim, expectedSha256, claimTraceid: xTraceid }, 'request');
        } catch (error) {
          if (!(error instanceof ClaimLostError)) {
            throw error;
          }
          // our lease lapsed and another worker took over: its outcome is ours
          awaitedClaim = claim + 1;
        }
      }
      // another caller claimed it between our read and our claim: look again, within the deadline
      await this.pause(deadline, 'the file is busy; retry');
    }
  }

  private async pause(deadline: number, detail: string): Promise<void> {
    if (Date.now() >= deadline) {
      throw new ApiException(ApiCode.StatusChangeFailed, { detail });
    }
    await sleep(POLL_MS);
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
