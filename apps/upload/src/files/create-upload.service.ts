// create: a new upload task (with its part URLs when asked for), a flash upload of content the
// service already holds, or (autoRename 4) the completed file of that name and digest.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Principal, PROOF_FAILURES, type ProofFailures } from '@koodrive/auth';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import {
  type CompletedMatch,
  FileNameTakenError,
  UploadTaskRepository,
  type NewUploadFile,
  type PartPlan,
  type UploadLimits,
  UploadRefusedError,
} from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { MAX_PUT_LENGTH } from '@koodrive/limits';
import { proofCode, proofRange } from '@koodrive/protocol';
import { fits, QUOTA_STORE, type QuotaStore } from '@koodrive/quota';
import { OBJECT_STORAGE, ObjectNotFoundError, type ObjectStorage } from '@koodrive/storage';
import { activeTraceId } from '@koodrive/telemetry';
import { AUTO_RENAME_REJECT, AUTO_RENAME_REUSE, type CreateUploadDto } from './dto/create-upload.dto.js';
import type { PartUploadVia } from './dto/upload-url.dto.js';
import { parseKooDriveTime } from './dto/field-rules.js';
import { UPLOAD_TOKEN_METADATA, newFileId, newUploadToken } from './file-id.js';
import { timestampedName } from './file-name.js';
import type { RequestedPart } from './part-rules.js';
import { type PartUrl, PartUrlIssuer } from './part-urls.js';

export interface CreateUploadResult {
  readonly fileId: string;
  readonly uploadId: string;
  readonly fileName: string;
  readonly parentFolder: string[];
  readonly containerId: string;
  readonly rapidUpload: boolean;
  readonly exist: boolean;
  readonly multiParts: PartUrl[];
}

const NAME_ATTEMPTS = 3;
// what a caller at its open-task cap is told to wait: tasks close as their uploads complete
const OPEN_TASKS_RETRY_AFTER_SECONDS = 60;

@Injectable()
export class CreateUploadService {
  private readonly logger = new Logger(CreateUploadService.name);

  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly partUrls: PartUrlIssuer,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(QUOTA_STORE) private readonly quotas: QuotaStore,
    @Inject(PROOF_FAILURES) private readonly proofFailures: ProofFailures,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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
    const plans = this.partUrls.plan(dto.length, requestedParts(dto), []);
    // in API.md's order
    const answer = (fields: Pick<CreateUploadResult, 'fileId' | 'uploadId' | 'fileName' | 'rapidUpload'>) => ({
      ...fields,
      parentFolder: [parentFolder],
      containerId: principal.containerId,
      exist: false,
      multiParts: [] as PartUrl[],
    });

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
          ...answer({ fileId: existing, uploadId: '', fileName: dto.fileName, rapidUpload: false }),
          exist: true,
        };
      }
    }
    const quota = await this.quotaOf(principal);
    // a file past the quota even with nothing held opens no multipart upload (create checks it
    // again, with what the container's open tasks hold, as it inserts the file)
    if (!fits(quota === null ? { state: 'none' } : { state: 'set', ...quota }, 0, dto.length)) {
      throw new ApiException(ApiCode.InsufficientSpace);
    }
    const held = await this.heldContent(principal, dto);
    const file = this.newFile(principal, dto, parentFolder, held);
    const uploadId =
      held === null
        ? await this.storage.createMultipartUpload(file.storageKey, { [UPLOAD_TOKEN_METADATA]: file.uploadToken })
        : null;
    const via = this.partUrls.via(dto.uploadVia);
    const fileName = await this.insertOrAbort(
      { ...file, uploadId },
      dto,
      { quota, maxOpenPerUser: held === null ? this.config.upload.maxOpenPerUser : null },
      held === null ? { plans, via } : null,
      xTraceid,
    );
    const created = answer({ fileId: file.id, uploadId: uploadId ?? '', fileName, rapidUpload: held !== null });
    if (uploadId === null || plans.length === 0) {
      return created;
    }
    return { ...created, multiParts: await this.partUrls.sign({ ...file, uploadId }, plans, via, origin) };
  }

  // The container's quota as KooDrive's accounting records it (null: no limit); a malformed
  // record refuses the create, never lifts the limit.
  private async quotaOf(principal: Principal): Promise<UploadLimits['quota']> {
    // read with the session in the request's one Redis round trip, when the caller acts in its own container
    const record = principal.quota ?? (await this.quotas.find(principal.containerId));
    switch (record.state) {
      case 'none':
        return null;
      case 'set':
        return { used: record.used, limit: record.limit };
      case 'malformed':
        this.logger.warn({
          msg: 'quota record malformed: create refused',
          containerId: principal.containerId,
          reason: record.reason,
        });
        throw new ApiException(ApiCode.InsufficientSpace);
    }
  }

  // Content the service already holds with this digest and length (flash upload): in the caller's
  // own container, or in any when the request proves it holds the bytes (proofCode, read from the
  // stored file). In a shared folder the container is another's, so a proof is always needed. A
  // proof counts only from a seed spelled as documented (principal.proofSeedSource), and only
  // until the user has given PROOF_FAILURE_LIMIT wrong ones for the digest. A wrong proof is not
  // an error: the upload goes ahead as usual.
  private async heldContent(principal: Principal, dto: CreateUploadDto): Promise<CompletedMatch | null> {
    if (dto.sha256 === undefined) {
      return null;
    }
    if (principal.shareFolderId === null) {
      const own = await this.tasks.findCompletedContent(principal.containerId, dto.sha256, dto.length);
      if (own !== null) {
        return own;
      }
    }
    const seed = principal.proofSeedSource;
    if (dto.proofCode === undefined || dto.length === 0 || seed === null) {
      return null;
    }
    const elsewhere = await this.tasks.findCompletedContent(undefined, dto.sha256, dto.length);
    if (elsewhere === null || (await this.proofFailures.exhausted(principal.userId, dto.sha256))) {
      return null;
    }
    const { start, end } = proofRange(seed, dto.length);
    const bytes = Buffer.alloc(end - start);
    try {
      await this.storage.readInto(elsewhere.storageKey, start, bytes);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) {
        return null;
      }
      throw error;
    }
    if (proofCode(bytes) === dto.proofCode) {
      return elsewhere;
    }
    await this.proofFailures.record(principal.userId, dto.sha256);
    this.logger.log({ msg: 'wrong proofCode: no flash upload', userId: principal.userId, sha256: dto.sha256 });
    return null;
  }

  // The task's row, before it has a name and a multipart upload.
  private newFile(
    principal: Principal,
    dto: CreateUploadDto,
    parentFolder: string,
    held: CompletedMatch | null,
  ): Omit<NewUploadFile, 'fileName' | 'uploadId'> {
    const fileId = newFileId();
    return {
      id: fileId,
      ownerId: principal.userId,
      containerId: principal.containerId,
      shareFolderId: principal.shareFolderId ?? undefined,
      parentFolder,
      length: dto.length,
      declaredSha256: dto.sha256,
      preHash: dto.preHash,
      fileType: dto.fileType,
      mimeType: dto.mimeType,
      description: dto.description,
      clientCreatedAt: dto.createdTime === undefined ? undefined : (parseKooDriveTime(dto.createdTime) ?? undefined),
      storageKey:
        held?.storageKey ?? `${this.config.s3.keyPrefix}${encodeURIComponent(principal.containerId)}/${fileId}`,
      uploadToken: newUploadToken(),
      expiresAt: new Date(Date.now() + this.config.upload.taskTtlSeconds * 1000),
    };
  }

  // Inserts the file under a free name (with its part plans, in the same transaction); a
  // multipart upload made for a file that could not be inserted is aborted.
  private async insertOrAbort(
    file: Omit<NewUploadFile, 'fileName'>,
    dto: CreateUploadDto,
    limits: UploadLimits,
    parts: { plans: readonly PartPlan[]; via: PartUploadVia } | null,
    xTraceid: string,
  ): Promise<string> {
    try {
      return await this.insertUnderFreeName(file, dto, limits, parts, xTraceid);
    } catch (error) {
      if (file.uploadId !== null) {
        await this.storage.abortMultipartUpload(file.storageKey, file.uploadId).catch((abortError: unknown) => {
          this.logger.warn({
            msg: 'could not abort multipart upload of a file not created',
            fileId: file.id,
            err: abortError,
          });
        });
      }
      throw refusal(error);
    }
  }

  // The name as asked, or with a timestamp on a clash (autoRename 2 and 4), or 13000405 (3).
  // `parts` null: the content is held already, and the file is created completed (announced).
  private async insertUnderFreeName(
    file: Omit<NewUploadFile, 'fileName'>,
    dto: CreateUploadDto,
    limits: UploadLimits,
    parts: { plans: readonly PartPlan[]; via: PartUploadVia } | null,
    xTraceid: string,
  ): Promise<string> {
    const now = new Date();
    for (let attempt = -1; attempt < NAME_ATTEMPTS; attempt++) {
      const fileName = attempt < 0 ? dto.fileName : timestampedName(dto.fileName, now, attempt);
      try {
        if (parts === null) {
          const trace = { traceId: activeTraceId(), xTraceid };
          await this.tasks.createCompletedCopy({ ...file, fileName }, dto.sha256!, trace, limits.quota);
        } else {
          await this.tasks.createUpload({ ...file, fileName }, parts.plans, parts.via === 'service', limits);
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

// A limit the file did not fit, as the contract answers it.
function refusal(error: unknown): unknown {
  if (!(error instanceof UploadRefusedError)) {
    return error;
  }
  return error.limit === 'quota'
    ? new ApiException(ApiCode.InsufficientSpace)
    : new ApiException(ApiCode.TooManyRequests, {
        retryAfterSeconds: OPEN_TASKS_RETRY_AFTER_SECONDS,
        detail: 'too many open upload tasks: complete or let some expire first',
      });
}

// The parts create hands out URLs for: the one part of uploadMode "put", or those asked for.
function requestedParts(dto: CreateUploadDto): readonly RequestedPart[] {
  if (dto.uploadMode !== 'put') {
    return dto.multiParts ?? [];
  }
  if (dto.length > MAX_PUT_LENGTH) {
    throw ApiException.invalidParameter(`length: must be at most ${MAX_PUT_LENGTH} with uploadMode put`);
  }
  if (dto.multiParts !== undefined) {
    throw ApiException.invalidParameter('multiParts: uploadMode put has one part, the whole file; leave it out');
  }
  return [{ partNumber: 1, partSize: dto.length, partOffset: 0 }];
}
