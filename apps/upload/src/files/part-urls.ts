// The part URLs create and uploadUrl hand out: one path for both. The requested parts are planned
// against the file (part-rules.ts), the plans recorded with where their URLs point, and each part
// gets a URL: presigned straight to storage, or the service's own signed part URL.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import type { PartPlan, UploadFile } from '@koodrive/database';
import { ApiException } from '@koodrive/errors';
import { parseHashCtx } from '@koodrive/hashing';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';
import type { PartUploadVia } from './dto/upload-url.dto.js';
import { PartRuleError, planParts, type RequestedPart } from './part-rules.js';
import { partUploadUrl } from '../parts/part-url.js';

export interface PartUrl {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number;
  // the state words the part starts from, as the client sent them (parallel mode)
  readonly hashCtx?: readonly number[];
  readonly partId: string;
  readonly uploadUrl: string;
  readonly uploadVia: PartUploadVia;
  readonly expiresAt: string;
}

@Injectable()
export class PartUrlIssuer {
  constructor(
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // Where the URLs point: as asked, else the deployment's default; a store that cannot presign
  // (the local-disk one) takes parts through the service only.
  via(asked: PartUploadVia | undefined): PartUploadVia {
    return this.storage.presignsParts ? (asked ?? this.config.upload.partUploadVia) : 'service';
  }

  // The requested parts checked against a file of `length` and its parts planned before:
  // 13000102 naming the part at fault.
  plan(length: number, requested: readonly RequestedPart[], stored: readonly PartPlan[]): PartPlan[] {
    try {
      return planParts(length, requested, stored);
    } catch (error) {
      throw error instanceof PartRuleError ? ApiException.invalidParameter(error.message) : error;
    }
  }

  // A URL for each planned part of `file` (its plans already recorded with `via`).
  async sign(
    file: Pick<UploadFile, 'id' | 'storageKey' | 'uploadId' | 'length'>,
    plans: readonly PartPlan[],
    via: PartUploadVia,
    origin: string,
  ): Promise<PartUrl[]> {
    const { uploadId, length } = file;
    if (uploadId === null) {
      throw new Error(`file ${file.id} has no multipart upload to hand out part URLs for`);
    }
    const { partUrlTtlSeconds: ttl, partUrlSecret, publicUrl } = this.config.upload;
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const expiresAt = new Date(expires * 1000).toISOString();
    const urlOf = (partNumber: number): Promise<string> =>
      via === 'service'
        ? Promise.resolve(partUploadUrl(publicUrl ?? origin, partUrlSecret, { fileId: file.id, partNumber, expires }))
        : this.storage.presignUploadPart(file.storageKey, uploadId, partNumber, ttl);
    return Promise.all(
      plans.map(async (plan) => ({
        partNumber: plan.partNumber,
        partSize: plan.partSize,
        // an offset not known (a part asked for alone, out of order, without one) is the usual
        // split's: every part before it of this part's size (within the file)
        partOffset: plan.partOffset ?? Math.min((plan.partNumber - 1) * plan.partSize, length - plan.partSize),
        ...(plan.hashCtx === null ? {} : { hashCtx: parseHashCtx(plan.hashCtx).h }),
        partId: `${file.id}-${plan.partNumber}`,
        uploadUrl: await urlOf(plan.partNumber),
        uploadVia: via,
        expiresAt,
      })),
    );
  }
}
