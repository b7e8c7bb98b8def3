// createRevision: a new version of a completed file, taken as create takes new content
// (UploadOpener: parts, quota, flash upload, multipart upload). The version is an upload task of its
// own, a row of its file's (revision_of), with no name; at most one is pending per file: a newer
// one supersedes an older one still uploading, and waits (13000403) for one being completed.
import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import {
  MaintenanceRepository,
  type SupersededUpload,
  type UploadFile,
  UploadTaskRepository,
  VersionBusyError,
  VersionRepository,
} from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { activeTraceId } from '@koodrive/telemetry';
import type { CreateRevisionDto } from './dto/create-revision.dto.js';
import { callersFile } from './open-file.js';
import type { PartUrlList } from './part-urls.js';
import { legacyRevisionId, newVersionId, versionRevisionId } from './revision-id.js';
import { type ContentInsert, type ContentRow, UploadOpener } from './upload-opener.service.js';

export interface CreateRevisionResult {
  readonly fileId: string;
  readonly uploadId: string;
  readonly containerId: string;
  readonly rapidUpload: boolean;
  readonly multiParts: PartUrlList;
  readonly revisionId: string;
}

@Injectable()
export class CreateRevisionService {
  private readonly logger = new Logger(CreateRevisionService.name);

  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly versions: VersionRepository,
    private readonly maintenance: MaintenanceRepository,
    private readonly opener: UploadOpener,
  ) {}

  // `origin`: where the client reached this service, for its own part URLs when PUBLIC_URL is unset.
  async createRevision(
    principal: Principal,
    dto: CreateRevisionDto,
    xTraceid: string,
    origin: string,
  ): Promise<CreateRevisionResult> {
    // checked before anything is looked up or created: bad parts change nothing
    const plans = await this.opener.plan(dto);
    const file = await this.revisableFile(principal, dto);
    const fileRevisionId =
      file.revisionId ?? (await this.versions.assignRevisionId(file.id, legacyRevisionId(file.id)));
    const versionId = newVersionId();
    const revisionId = versionRevisionId(fileRevisionId, versionId);
    const opened = await this.opener.open(
      principal,
      {
        containerId: file.containerId,
        // a distinct object in the file's own key space, whatever object the file's content is now
        storageKey: () => `${this.opener.ownStorageKey(file.containerId, file.id)}.v${versionId}`,
        row: {
          parentFolder: file.parentFolder,
          fileType: undefined,
          description: undefined,
          revisionOf: file.id,
          revisionId,
          keepPolicy: dto.keepPolicy ?? 0,
        },
      },
      dto,
      plans,
      origin,
      (row, how) => this.insertVersion({ ...row, fileName: file.fileName, revisionOf: file.id }, how, xTraceid),
    );
    await this.abortSuperseded(opened.inserted);
    // in API.md's order
    return {
      fileId: file.id,
      uploadId: opened.uploadId,
      containerId: file.containerId,
      rapidUpload: opened.rapidUpload,
      multiParts: opened.multiParts,
      revisionId,
    };
  }

  // The file the version is of: a completed file the caller may reach (as complete: its creator, in
  // the same space), in the container the request names; else 13000401, or 13000403 when it is not
  // completed (yet, or ever).
  private async revisableFile(principal: Principal, dto: CreateRevisionDto): Promise<UploadFile> {
    const file = callersFile(principal, await this.tasks.findForOwner(dto.fileId, principal.userId));
    // a version's own row is no file; an expired upload is no file either
    if (file.revisionOf !== null || file.containerId !== dto.containerId || file.status === 'EXPIRED') {
      throw ApiException.taskNotFound();
    }
    if (file.status !== 'COMPLETED') {
      throw new ApiException(ApiCode.StatusChangeFailed, {
        detail: `the file is ${file.status.toLowerCase()}: only a completed file takes a new version`,
      });
    }
    return file;
  }

  private async insertVersion(
    version: ContentRow & { readonly fileName: string; readonly revisionOf: string },
    how: ContentInsert,
    xTraceid: string,
  ): Promise<SupersededUpload[]> {
    try {
      if (how.parts === null) {
        const trace = { traceId: activeTraceId(), xTraceid };
        return await this.versions.createCompletedVersion(version, how.sha256!, trace, how.limits.quota);
      }
      return await this.versions.createVersion(version, how.parts.plans, how.parts.via === 'service', how.limits);
    } catch (error) {
      if (error instanceof VersionBusyError) {
        throw new ApiException(ApiCode.StatusChangeFailed, {
          detail: 'an earlier version of the file is being completed; retry',
        });
      }
      throw error;
    }
  }

  // The superseded versions' multipart uploads, aborted at once (their rows are EXPIRED already, so
  // their part URLs take no more bytes); one that cannot be is left to the reaper, which aborts
  // expired rows' uploads.
  private async abortSuperseded(superseded: readonly SupersededUpload[]): Promise<void> {
    await Promise.all(
      superseded.map(async (version) => {
        if (
          version.uploadId !== null &&
          (await this.opener.abort(version.id, version.storageKey, version.uploadId, 'a superseded version'))
        ) {
          await this.maintenance.markUploadFreed(version.id).catch((error: unknown) => {
            this.logger.warn({ msg: 'could not record a superseded upload aborted', fileId: version.id, err: error });
          });
        }
      }),
    );
  }
}
