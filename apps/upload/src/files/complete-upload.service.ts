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
    // the common case first: the file is open and ours, and one statement claims it
    let claimable = true;
    for (;;) {
      if (claimable) {
        const claimed = await this.completions.claimForCompletion(
          dto.fileId,
          principal,
          this.config.upload.completeLeaseSeconds,
          dto.sha256 ?? null,
          xTraceid,
        );
        if (claimed !== null) {
          try {
            return await this.runner.run(claimed, 'request');
          } catch (error) {
            if (!(error instanceof ClaimLostError)) {
              throw error;
            }
            // our lease lapsed and another worker took over: its outcome is ours
            awaitedClaim = claimed.claim + 1;
          }
        }
      }
      // not ours to claim just now: the answer the file has, or wait and look again
      const file = callersFile(principal, await this.tasks.findForOwner(dto.fileId, principal.userId));
      const answer = settledAnswer(file, awaitedClaim, dto.sha256);
      if (answer !== undefined) {
        return answer;
      }
      const running = file.status === 'COMPLETING' && file.claimExpiresAt !== null && file.claimExpiresAt > new Date();
      if (running) {
        awaitedClaim = file.claim;
      }
      // claimed and released by another caller since, or a lease that has lapsed: claim it after the pause
      claimable = !running;
      await this.pause(deadline, running ? 'another complete is still running; retry' : 'the file is busy; retry');
    }
  }

  private async pause(deadline: number, detail: string): Promise<void> {
    if (Date.now() >= deadline) {
      throw new ApiException(ApiCode.StatusChangeFailed, { detail });
    }
    await sleep(POLL_MS);
  }
}

// The answer the file already has: its recorded outcome, or 13000401 when it is gone or expired;
// undefined while it is open or being completed.
function settledAnswer(
  file: UploadFile,
  awaitedClaim: number | undefined,
  requestedSha256: string | undefined,
): CompleteUploadResult | undefined {
  switch (file.status) {
    case 'EXPIRED':
      throw ApiException.taskNotFound();
    case 'COMPLETED':
      return recordedSuccess(file, requestedSha256);
    case 'FAILED':
      throw recordedFailure(file);
    case 'UPLOADING':
      if (awaitedClaim !== undefined && file.claim >= awaitedClaim && file.resultCode !== null) {
        throw recordedFailure(file);
      }
      if (file.expiresAt <= new Date()) {
        throw ApiException.taskNotFound();
      }
      return undefined;
    case 'COMPLETING':
      return undefined;
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
