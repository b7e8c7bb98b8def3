import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { FileNameTakenError, FileRepository, type NewUploadFile } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';
import { activeTraceId } from '@koodrive/telemetry';
import { AUTO_RENAME_REJECT, AUTO_RENAME_REUSE, type CreateUploadDto } from './dto/create-upload.dto.js';
import { UPLOAD_TOKEN_METADATA, newFileId, newUploadToken } from './file-id.js';
import { timestampedName } from './file-name.js';

export interface CreateUploadResult {
  readonly fileId: string;
  readonly uploadId: string;
  readonly fileName: string;
  readonly parentFolder: string[];
  readonly containerId: string;
  readonly rapidUpload: boolean;
  readonly exist?: boolean;
}

const NAME_ATTEMPTS = 3;

@Injectable()
export class CreateUploadService {
  private readonly logger = new Logger(CreateUploadService.name);

  constructor(
    private readonly files: FileRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(principal: Principal, dto: CreateUploadDto, xTraceid: string): Promise<CreateUploadResult> {
    const parentFolder = dto.parentFolder?.[0] ?? 'root';
    const autoRename = dto.autoRename ?? 2;
    const answer = (fileId: string, uploadId: string, fileName: string, rapidUpload: boolean): CreateUploadResult => ({
      fileId,
      uploadId,
      fileName,
      parentFolder: [parentFolder],
      containerId: principal.containerId,
      rapidUpload,
    });

    if (autoRename === AUTO_RENAME_REUSE && dto.sha256 !== undefined) {
      const existing = await this.files.findCompletedByNameAndDigest(
        principal.containerId,
        parentFolder,
        dto.fileName,
        dto.sha256,
      );
      if (existing !== null) {
        return { ...answer(existing, '', dto.fileName, false), exist: true };
      }
    }

    const fileId = newFileId();
    const uploadToken = newUploadToken();
    const held =
      dto.sha256 === undefined
        ? null
        : await this.files.findCompletedContent(principal.containerId, dto.sha256, dto.length);
    const storageKey =
      held?.storageKey ?? `${this.config.s3.keyPrefix}${encodeURIComponent(principal.containerId)}/${fileId}`;
    const uploadId =
      held === null
        ? await this.storage.createMultipartUpload(storageKey, { [UPLOAD_TOKEN_METADATA]: uploadToken })
        : null;

    const file: Omit<NewUploadFile, 'fileName'> = {
      id: fileId,
      ownerId: principal.userId,
      containerId: principal.containerId,
      parentFolder,
      length: dto.length,
      declaredSha256: dto.sha256,
      fileType: dto.fileType,
      mimeType: dto.mimeType,
      description: dto.description,
      clientCreatedAt: dto.createdTime === undefined ? undefined : new Date(dto.createdTime),
      storageKey,
      uploadId,
      uploadToken,
      expiresAt: new Date(Date.now() + this.config.upload.taskTtlSeconds * 1000),
    };
    try {
      const fileName = await this.insertUnderFreeName(
        file,
        dto.fileName,
        autoRename,
        held !== null && dto.sha256 !== undefined ? { sha256: dto.sha256, xTraceid } : null,
      );
      return answer(fileId, uploadId ?? '', fileName, held !== null);
    } catch (error) {
      if (uploadId !== null) {
        await this.storage.abortMultipartUpload(storageKey, uploadId).catch((abortError: unknown) => {
          this.logger.warn({ msg: 'could not abort multipart upload of a file not created', fileId, err: abortError });
        });
      }
      throw error;
    }
  }

  // The name as asked, or with a timestamp on a clash (autoRename 2 and 4), or 13000405 (3).
  private async insertUnderFreeName(
    file: Omit<NewUploadFile, 'fileName'>,
    requested: string,
    autoRename: number,
    // set when the content is held already: the file is created completed, announcing it
    rapid: { sha256: string; xTraceid: string } | null,
  ): Promise<string> {
    const now = new Date();
    for (let attempt = -1; attempt < NAME_ATTEMPTS; attempt++) {
      const fileName = attempt < 0 ? requested : timestampedName(requested, now, attempt);
      try {
        if (rapid !== null) {
          await this.files.createCompletedCopy({ ...file, fileName }, rapid.sha256, {
            traceId: activeTraceId(),
            xTraceid: rapid.xTraceid,
          });
        } else {
          await this.files.createUpload({ ...file, fileName });
        }
        return fileName;
      } catch (error) {
        if (!(error instanceof FileNameTakenError)) {
          throw error;
        }
        if (autoRename === AUTO_RENAME_REJECT) {
          throw new ApiException(ApiCode.DuplicateFileName);
        }
      }
    }
    throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'could not find a free file name; retry' });
  }
}
