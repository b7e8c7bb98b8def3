// completeRevision: completes the file's pending version through complete's claim and wait loop
// (CompleteUploadService.completeRow) and CompletionRunner, whose recording of success makes the
// version the file's content. With no version pending, a repeat answers the file's current version.
import { Injectable } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { type UploadFile, UploadTaskRepository, VersionRepository } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { CompleteUploadService, recordedFailure, recordedSuccess } from './complete-upload.service.js';
import type { CompleteUploadDto } from './dto/complete-upload.dto.js';
import { callersFile } from './open-file.js';
import { legacyRevisionId } from './revision-id.js';

export interface CompleteRevisionResult {
  readonly fileId: string;
  readonly sha256: string;
  readonly length: number;
  readonly revisionId: string;
  readonly revisionVersion: number;
}

// times a completion is retargeted at a newer version that superseded the one it found
const RETARGETS = 3;

@Injectable()
export class CompleteRevisionService {
  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly versions: VersionRepository,
    private readonly completes: CompleteUploadService,
  ) {}

  async completeRevision(
    principal: Principal,
    dto: CompleteUploadDto,
    xTraceid: string,
  ): Promise<CompleteRevisionResult> {
    for (let retarget = 0; ; retarget++) {
      const { file, version } = await this.newestVersion(principal, dto.fileId);
      if (version === null || (version.status !== 'UPLOADING' && version.status !== 'COMPLETING')) {
        return this.settledAnswer(file, version, dto.sha256);
      }
      try {
        const completion = await this.completes.completeRow(
          principal,
          { id: version.id, revisionOf: file.id },
          dto.sha256,
          xTraceid,
        );
        // the version row as completed: its revisionVersion is set as it completes
        const completed =
          'recorded' in completion ? completion.recorded : await this.tasks.findForOwner(version.id, file.ownerId);
        return versionAnswer(file, completed!, dto.sha256);
      } catch (error) {
        // superseded by a newer version meanwhile: completeRevision names the file, so it concerns that one
        const superseded =
          error instanceof ApiException &&
          error.code === ApiCode.TaskNotFound &&
          retarget < RETARGETS &&
          (await this.newestVersion(principal, dto.fileId)).version?.id !== version.id;
        if (!superseded) {
          throw error;
        }
      }
    }
  }

  // The caller's file and its newest version (null: none yet).
  private async newestVersion(
    principal: Principal,
    fileId: string,
  ): Promise<{ file: UploadFile; version: UploadFile | null }> {
    const found = await this.versions.findWithNewestVersion(fileId, principal.userId);
    const file = callersFile(principal, found?.file ?? null);
    if (file.status === 'EXPIRED') {
      throw ApiException.taskNotFound();
    }
    if (file.status !== 'COMPLETED') {
      throw new ApiException(ApiCode.StatusChangeFailed, { detail: `the file is ${file.status.toLowerCase()}` });
    }
    return { file, version: found!.version };
  }

  // No version pending: the newest one's outcome. Completed (or none ever): the file's current
  // version, 13000402 if the request names another digest; failed: its recorded failure; expired
  // or superseded: 13000401, as for any upload task.
  private async settledAnswer(
    file: UploadFile,
    version: UploadFile | null,
    sha256: string | undefined,
  ): Promise<CompleteRevisionResult> {
    if (version?.status === 'FAILED') {
      throw recordedFailure(version);
    }
    if (version?.status === 'EXPIRED') {
      throw ApiException.taskNotFound();
    }
    const { sha256: digest, length } = recordedSuccess(file, sha256);
    const revisionId = file.revisionId ?? (await this.versions.assignRevisionId(file.id, legacyRevisionId(file.id)));
    return { fileId: file.id, sha256: digest, length, revisionId, revisionVersion: file.revisionVersion };
  }
}

// A completed version's answer, under its file's id.
function versionAnswer(file: UploadFile, version: UploadFile, sha256: string | undefined): CompleteRevisionResult {
  const { sha256: digest, length } = recordedSuccess(version, sha256);
  return {
    fileId: file.id,
    sha256: digest,
    length,
    revisionId: version.revisionId ?? '',
    revisionVersion: version.revisionVersion,
  };
}
