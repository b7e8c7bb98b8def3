// New content for the service to take, whether a new file (create) or a new version of one
// (createRevision): one path for both. Its parts checked and planned, the quota read, a flash upload
// of content already held (own container, or a valid proofCode), else a multipart upload opened for
// it; the row inserted by the caller's statement under the quota and open-task limits; the part
// URLs signed.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Principal, PROOF_FAILURES, type ProofFailures } from '@koodrive/auth';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import {
  type CompletedMatch,
  type NewUploadFile,
  type PartPlan,
  type UploadLimits,
  UploadRefusedError,
  UploadTaskRepository,
} from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { MAX_PUT_LENGTH } from '@koodrive/limits';
import { proofCode, proofRange } from '@koodrive/protocol';
import { fits, QUOTA_STORE, type QuotaStore } from '@koodrive/quota';
import { OBJECT_STORAGE, ObjectNotFoundError, type ObjectStorage } from '@koodrive/storage';
import { parseKooDriveTime } from './dto/field-rules.js';
import type { UploadContentDto } from './dto/upload-content.dto.js';
import type { PartUploadVia } from './dto/upload-url.dto.js';
import { UPLOAD_TOKEN_METADATA, newFileId, newUploadToken } from './file-id.js';
import type { PlannedPart, RequestedPart } from './part-rules.js';
import { type PartUrlList, PartUrlIssuer } from './part-urls.js';

// what a caller at its open-task cap is told to wait: tasks close as their uploads complete
const OPEN_TASKS_RETRY_AFTER_SECONDS = 60;

// Where new content goes: the container it is held against, its own object's key (given the row's
// id), and the row's fields that are not the content's.
export interface ContentPlace {
  readonly containerId: string;
  readonly storageKey: (id: string) => string;
  readonly row: Pick<
    NewUploadFile,
    'parentFolder' | 'fileType' | 'description' | 'revisionOf' | 'revisionId' | 'keepPolicy'
  >;
}

// The row as the caller's statement inserts it (its name, for a file, is the caller's to choose).
export type ContentRow = Omit<NewUploadFile, 'fileName'>;

// How the caller inserts it: under `limits`; `parts` null when the content is held already (the
// row is created completed, its digest `sha256`).
export interface ContentInsert {
  readonly limits: UploadLimits;
  readonly parts: { readonly plans: readonly PartPlan[]; readonly via: PartUploadVia } | null;
  readonly sha256: string | undefined;
}

export interface OpenedContent<T> {
  readonly id: string;
  // the storage's multipart upload id; '' when none is needed (a flash upload)
  readonly uploadId: string;
  readonly rapidUpload: boolean;
  readonly multiParts: PartUrlList;
  // what the caller's insert answered
  readonly inserted: T;
}

@Injectable()
export class UploadOpener {
  private readonly logger = new Logger(UploadOpener.name);

  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly partUrls: PartUrlIssuer,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(QUOTA_STORE) private readonly quotas: QuotaStore,
    @Inject(PROOF_FAILURES) private readonly proofFailures: ProofFailures,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // The parts to hand out URLs for, checked against the content's length: 13000102 naming the
  // part at fault. Done before anything is looked up or created: bad parts change nothing.
  async plan(dto: UploadContentDto): Promise<PlannedPart[]> {
    return this.partUrls.plan(dto.length, requestedParts(dto), []);
  }

  // The object key of a row's own bytes in `containerId`.
  ownStorageKey(containerId: string, id: string): string {
    return `${this.config.s3.keyPrefix}${encodeURIComponent(containerId)}/${id}`;
  }

  // Takes the content: a flash upload, or a multipart upload with its `plans`' URLs. `insert` writes
  // the row (in one statement, under its limits); a multipart upload made for a row it could not
  // insert is aborted. `origin`: where the client reached this service, for its own part URLs
  // when PUBLIC_URL is unset.
  async open<T>(
    principal: Principal,
    place: ContentPlace,
    dto: UploadContentDto,
    plans: readonly PlannedPart[],
    origin: string,
    insert: (row: ContentRow, how: ContentInsert) => Promise<T>,
  ): Promise<OpenedContent<T>> {
    const quota = await this.quotaOf(principal, place.containerId);
    // content past the quota even with nothing held opens no multipart upload (the insert checks it
    // again, with what the container's open tasks hold)
    if (!fits(quota === null ? { state: 'none' } : { state: 'set', ...quota }, 0, dto.length)) {
      throw new ApiException(ApiCode.InsufficientSpace);
    }
    const held = await this.heldContent(principal, place.containerId, dto);
    const row = this.newRow(principal, place, dto, held);
    const uploadId =
      held === null
        ? await this.storage.createMultipartUpload(row.storageKey, { [UPLOAD_TOKEN_METADATA]: row.uploadToken })
        : null;
    const via = this.partUrls.via(dto.uploadVia);
    let inserted: T;
    try {
      inserted = await insert(
        { ...row, uploadId },
        {
          limits: { quota, maxOpenPerUser: held === null ? this.config.upload.maxOpenPerUser : null },
          parts: held === null ? { plans, via } : null,
          sha256: dto.sha256,
        },
      );
    } catch (error) {
      if (uploadId !== null) {
        await this.abort(row.id, row.storageKey, uploadId, 'a row not created');
      }
      throw refusal(error);
    }
    const opened = { id: row.id, uploadId: uploadId ?? '', rapidUpload: held !== null, multiParts: [], inserted };
    if (uploadId === null || plans.length === 0) {
      return opened;
    }
    return { ...opened, multiParts: await this.partUrls.sign({ ...row, uploadId }, plans, via, origin) };
  }

  // Aborts a multipart upload nobody will complete, best effort: the reaper retries what is left.
  async abort(id: string, storageKey: string, uploadId: string, why: string): Promise<boolean> {
    try {
      await this.storage.abortMultipartUpload(storageKey, uploadId);
      return true;
    } catch (error) {
      this.logger.warn({ msg: `could not abort the multipart upload of ${why}`, fileId: id, err: error });
      return false;
    }
  }

  // The container's quota as KooDrive's accounting records it (null: no limit); a malformed
  // record refuses the upload, never lifts the limit.
  private async quotaOf(principal: Principal, containerId: string): Promise<UploadLimits['quota']> {
    // read with the session in the request's one Redis round trip, when the caller acts in its own container
    const record =
      principal.quota !== undefined && principal.containerId === containerId
        ? principal.quota
        : await this.quotas.find(containerId);
    switch (record.state) {
      case 'none':
        return null;
      case 'set':
        return { used: record.used, limit: record.limit };
      case 'malformed':
        this.logger.warn({ msg: 'quota record malformed: create refused', containerId, reason: record.reason });
        throw new ApiException(ApiCode.InsufficientSpace);
    }
  }

  // Content the service already holds with this digest and length (flash upload): in the caller's
  // own container, or in any when the request proves it holds the bytes (proofCode, read from the
  // stored file). In a shared folder the container is another's, so a proof is always needed. A
  // proof counts only from a seed spelled as documented (principal.proofSeedSource), and only
  // until the user has given PROOF_FAILURE_LIMIT wrong ones for the digest. A wrong proof is not
  // an error: the upload goes ahead as usual.
  private async heldContent(
    principal: Principal,
    containerId: string,
    dto: UploadContentDto,
  ): Promise<CompletedMatch | null> {
    if (dto.sha256 === undefined) {
      return null;
    }
    if (principal.shareFolderId === null) {
      const own = await this.tasks.findCompletedContent(containerId, dto.sha256, dto.length);
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

  // The row, before it has a multipart upload (and, for a file, a name).
  private newRow(
    principal: Principal,
    place: ContentPlace,
    dto: UploadContentDto,
    held: CompletedMatch | null,
  ): Omit<ContentRow, 'uploadId'> {
    const id = newFileId();
    return {
      ...place.row,
      id,
      ownerId: principal.userId,
      containerId: place.containerId,
      shareFolderId: principal.shareFolderId ?? undefined,
      length: dto.length,
      declaredSha256: dto.sha256,
      preHash: dto.preHash,
      mimeType: dto.mimeType,
      clientCreatedAt: dto.createdTime === undefined ? undefined : (parseKooDriveTime(dto.createdTime) ?? undefined),
      storageKey: held?.storageKey ?? place.storageKey(id),
      uploadToken: newUploadToken(),
      expiresAt: new Date(Date.now() + this.config.upload.taskTtlSeconds * 1000),
    };
  }
}

// A limit the content did not fit, as the contract answers it.
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

// The parts to hand out URLs for at once: the one part of uploadMode "put", or those asked for.
function requestedParts(dto: UploadContentDto): readonly RequestedPart[] {
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
