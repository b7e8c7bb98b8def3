// create: a new upload task (with its part URLs when asked for), a flash upload of content the
// service already holds, or (autoRename 4) the completed file of that name and digest. What create
// shares with createRevision (parts, quota, flash upload, the multipart upload) is UploadOpener's.
import { Injectable } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { FileNameTakenError, UploadTaskRepository } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { activeTraceId } from '@koodrive/telemetry';
import { AUTO_RENAME_REJECT, AUTO_RENAME_REUSE, type CreateUploadDto } from './dto/create-upload.dto.js';
import { timestampedName } from './file-name.js';
import type { PartUrlList } from './part-urls.js';
import { newRevisionId } from './revision-id.js';
import { type ContentInsert, type ContentRow, UploadOpener } from './upload-opener.service.js';

export interface CreateUploadResult {
  readonly fileId: string;
  readonly uploadId: string;
  readonly fileName: string;
  readonly parentFolder: string[];
  readonly containerId: string;
  readonly rapidUpload: boolean;
  readonly exist: boolean;
  readonly multiParts: PartUrlList;
}

const NAME_ATTEMPTS = 3;

@Injectable()
export class CreateUploadService {
  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly opener: UploadOpener,
  ) {}

  // `origin`: where the client reached this service, for its own part URLs when PUBLIC_URL is unset.
  async create(
    principal: Principal,
    dto: CreateUploadDto,
    xTraceid: string,
    origin: string,
  ): Promise<CreateUploadResult> {
    const parentFolder = targetFolder(principal, dto.parentFolder?.[0]);
    // checked before anything is created: bad parts change nothing
    const plans = await this.opener.plan(dto);
    if (dto.autoRename === AUTO_RENAME_REUSE && dto.sha256 !== undefined) {
      // in a shared folder, only the caller's own files: the others' are not the caller's to learn of
      const existing = await this.tasks.findCompletedByNameAndDigest(
        principal.containerId,
        parentFolder,
        dto.fileName,
        dto.sha256,
        principal.shareFolderId === null ? undefined : principal.userId,
      );
      if (existing !== null) {
        return {
          fileId: existing,
          uploadId: '',
          fileName: dto.fileName,
          parentFolder: [parentFolder],
          containerId: principal.containerId,
          rapidUpload: false,
          exist: true,
          multiParts: [],
        };
      }
    }
    const opened = await this.opener.open(
      principal,
      {
        containerId: principal.containerId,
        storageKey: (id) => this.opener.ownStorageKey(principal.containerId, id),
        row: { parentFolder, fileType: dto.fileType, description: dto.description, revisionId: newRevisionId() },
      },
      dto,
      plans,
      origin,
      (row, how) => this.insertUnderFreeName(row, how, dto, xTraceid),
    );
    // in API.md's order
    return {
      fileId: opened.id,
      uploadId: opened.uploadId,
      fileName: opened.inserted,
      parentFolder: [parentFolder],
      containerId: principal.containerId,
      rapidUpload: opened.rapidUpload,
      exist: false,
      multiParts: opened.multiParts,
    };
  }

  // Inserts the file (with its part plans) under the name as asked, or with a timestamp on a clash
  // (autoRename 2 and 4), or 13000405 (3); answers the name it got. Content held already makes the
  // file completed at once (announced).
  private async insertUnderFreeName(
    file: ContentRow,
    how: ContentInsert,
    dto: CreateUploadDto,
    xTraceid: string,
  ): Promise<string> {
    const now = new Date();
    for (let attempt = -1; attempt < NAME_ATTEMPTS; attempt++) {
      const fileName = attempt < 0 ? dto.fileName : timestampedName(dto.fileName, now, attempt);
      try {
        if (how.parts === null) {
          const trace = { traceId: activeTraceId(), xTraceid };
          await this.tasks.createCompletedCopy({ ...file, fileName }, how.sha256!, trace, how.limits.quota);
        } else {
          await this.tasks.createUpload(
            { ...file, fileName },
            how.parts.plans,
            how.parts.via === 'service',
            how.limits,
          );
        }
        return fileName;
      } catch (error) {
        if (!(error instanceof FileNameTakenError)) {
          throw error;
        }
        if (dto.autoRename === AUTO_RENAME_REJECT) {
          throw new ApiException(ApiCode.DuplicateFileName);
        }
      }
    }
    throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'could not find a free file name; retry' });
  }
}

// The folder the file goes in. In a shared folder (x-hw-share-folder-id) that folder, which
// parentFolder may name as `root` or by its id; any other folder is the owner's, out of reach.
function targetFolder(principal: Principal, asked: string | undefined): string {
  if (principal.shareFolderId === null) {
    return asked ?? 'root';
  }
  if (asked === undefined || asked === 'root' || asked === principal.shareFolderId) {
    return principal.shareFolderId;
  }
  throw new ApiException(ApiCode.NoPermission, {
    detail: 'parentFolder: in a shared folder, only root or the shared folder itself',
  });
}
