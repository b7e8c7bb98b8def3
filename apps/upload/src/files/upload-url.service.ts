import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { FileRepository } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';
import type { UploadUrlDto } from './dto/upload-url.dto.js';
import { openFileForOwner } from './open-file.js';
import { PartRuleError, planParts } from './part-rules.js';
import { partUploadUrl } from '../parts/part-url.js';

export interface PartUrl {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number | null;
  readonly partId: string;
  readonly uploadUrl: string;
  readonly uploadVia: 's3' | 'service';
  readonly expiresAt: string;
}

@Injectable()
export class UploadUrlService {
  constructor(
    private readonly files: FileRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // `origin`: where the client reached this service, for its own part URLs when PUBLIC_URL is unset.
  async presign(principal: Principal, dto: UploadUrlDto, origin: string): Promise<{ multiParts: PartUrl[] }> {
    const file = openFileForOwner(await this.files.findForOwner(dto.fileId, principal.userId));
    if (file.uploadId === null) {
      throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'the file needs no parts' });
    }
    let plans;
    try {
      plans = planParts(file.length, dto.multiParts, await this.files.listPartPlans(file.id));
    } catch (error) {
      throw error instanceof PartRuleError ? ApiException.invalidParameter(error.message) : error;
    }
    if (!(await this.files.savePartPlans(file.id, plans))) {
      throw ApiException.notOpenForUpload();
    }
    const { partUrlTtlSeconds: ttl, partUrlSecret, publicUrl } = this.config.upload;
    const expires = Math.floor(Date.now() / 1000) + ttl;
    // a store that can't presign (the local-disk one) takes parts through the service only
    const uploadVia = this.storage.presignsParts ? (dto.uploadVia ?? this.config.upload.partUploadVia) : 'service';
    const uploadId = file.uploadId;
    const urlOf = (partNumber: number): Promise<string> =>
      uploadVia === 'service'
        ? Promise.resolve(partUploadUrl(publicUrl ?? origin, partUrlSecret, { fileId: file.id, partNumber, expires }))
        : this.storage.presignUploadPart(file.storageKey, uploadId, partNumber, ttl);
    const multiParts = await Promise.all(
      plans.map(async (plan) => ({
        partNumber: plan.partNumber,
        partSize: plan.partSize,
        partOffset: plan.partOffset,
        partId: `${file.id}-${plan.partNumber}`,
        uploadUrl: await urlOf(plan.partNumber),
        uploadVia,
        expiresAt: new Date(expires * 1000).toISOString(),
      })),
    );
    return { multiParts };
  }
}
