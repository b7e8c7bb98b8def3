// complete: take the file's completion claim and run the completion, or wait for the caller that
// holds it and give its recorded answer. Concurrent and repeated completes do the work once.
// completeRevision completes a version's row through the same loop (completeRow).
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

// How a completion ended for the caller: this call ran it (its result), or the row's recorded
// outcome is the answer (completed by another caller, or before).
export type Completion = { readonly ran: CompleteUploadResult } | { readonly recorded: UploadFile };

@Injectable()
export class CompleteUploadService {
  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly completions: CompletionRepository,
    private readonly runner: CompletionRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async complete(principal: Principal, dto: CompleteUploadDto, xTraceid: string): Promise<CompleteUploadResult> {
    const completion = await this.completeRow(principal, { id: dto.fileId, revisionOf: null }, dto.sha256, xTraceid);
    return 'ran' in completion ? completion.ran : recordedSuccess(completion.recorded, dto.sha256);
  }

  // Completes one row, a file's (revisionOf null) or a version of the file `revisionOf`: takes its
  // completion claim and runs the completion, or waits for the caller that holds it. Answers once
  // the row is completed; throws its recorded failure (13000401 once it is gone or expired).
  async completeRow(
    principal: Principal,
    row: { readonly id: string; readonly revisionOf: string | null },
    sha256: string | undefined,
    xTraceid: string,
  ): Promise<Completion> {
    const deadline = Date.now() + this.config.upload.completeWaitSeconds * 1000;
    // a claim we saw another caller take (or that took ours over): its recorded result is our answer
    let awaitedClaim: number | undefined;
    // the common case first: the row is open and ours, and one statement claims it
    let claimable = true;
    for (;;) {
      if (claimable) {
        const claimed = await this.completions.claimForCompletion(
          row.id,
          principal,
          this.config.upload.completeLeaseSeconds,
          sha256 ?? null,
          xTraceid,
          row.revisionOf,
        );
        if (claimed !== null) {
          try {
            return { ran: await this.runner.run(claimed, 'request') };
          } catch (error) {
            if (!(error instanceof ClaimLostError)) {
              throw error;
            }
            // our lease lapsed and another worker took over: its outcome is ours
            awaitedClaim = claimed.claim + 1;
          }
        }
      }
      // not ours to claim just now: the outcome the row has, or wait and look again
      const file = callersFile(principal, await this.tasks.findForOwner(row.id, principal.userId));
      if (file.revisionOf !== row.revisionOf) {
        throw ApiException.taskNotFound();
      }
      if (settled(file, awaitedClaim)) {
        return { recorded: file };
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

// Whether the row has its answer: true once it is completed; its recorded outcome thrown (13000401
// when it is gone or expired); false while it is open or being completed.
function settled(file: UploadFile, awaitedClaim: number | undefined): boolean {
  switch (file.status) {
    case 'EXPIRED':
      throw ApiException.taskNotFound();
    case 'COMPLETED':
      return true;
    case 'FAILED':
      throw recordedFailure(file);
    case 'UPLOADING':
      if (awaitedClaim !== undefined && file.claim >= awaitedClaim && file.resultCode !== null) {
        throw recordedFailure(file);
      }
      if (file.expiresAt <= new Date()) {
        throw ApiException.taskNotFound();
      }
      return false;
    case 'COMPLETING':
      return false;
  }
}

// A completed file's answer; 13000402 when the request names another digest.
export function recordedSuccess(file: UploadFile, requestedSha256: string | undefined): CompleteUploadResult {
  if (requestedSha256 !== undefined && requestedSha256 !== file.actualSha256) {
    throw ApiException.integrityFailed('sha256 differs from the completed file');
  }
  return { fileId: file.id, sha256: file.actualSha256 ?? '', length: file.length };
}

// The failure recorded on the row, as the contract answers it.
export function recordedFailure(file: UploadFile): ApiException {
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
