// The part URLs create and uploadUrl hand out: one path for both. The requested parts are planned
// against the file (part-rules.ts), the plans recorded with where their URLs point, and each part
// gets a URL: presigned straight to storage, or the service's own signed part URL.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import type { PartPlan, UploadFile } from '@koodrive/database';
import { ApiException } from '@koodrive/errors';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';
import type { PartUploadVia } from './dto/upload-url.dto.js';
import { PartRuleError, planParts, type PlannedPart, type RequestedPart, startsOf } from './part-rules.js';
import { partUploadUrl } from '../parts/part-url.js';
import { JsonListWriter, type SerializedJson } from '../http/large-answers.js';

// The part URLs of an answer: a list, or a long one already serialized (large-answers.ts).
export type PartUrlList = readonly PartUrl[] | SerializedJson;

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
  // A long list is planned SLICE parts a turn, beginning in a turn of its own.
  async plan(length: number, requested: readonly RequestedPart[], stored: readonly PartPlan[]): Promise<PlannedPart[]> {
    try {
      const starts = requested.length > SLICE ? await startsOf(requested, SLICE) : undefined;
      return planParts(length, requested, stored, starts);
    } catch (error) {
      throw error instanceof PartRuleError ? ApiException.invalidParameter(error.message) : error;
    }
  }

  // A URL for each planned part of `file` (its plans already recorded with `via`). Up to 10,000 of
  // them: a long list is signed, built and serialized a slice at a time, giving the event loop a
  // turn between slices (probes and other requests are answered meanwhile), and each slice's URLs
  // and answers are dropped once serialized: only the list's bytes live until it is sent. A
  // version's parts are named (partId) under its file's id; the service's own URL names the
  // version's row.
  async sign(
    file: Pick<UploadFile, 'id' | 'storageKey' | 'uploadId' | 'length'> & {
      readonly revisionOf?: string | null | undefined;
    },
    plans: readonly PlannedPart[],
    via: PartUploadVia,
    origin: string,
  ): Promise<PartUrlList> {
    const { uploadId, length } = file;
    if (uploadId === null) {
      throw new Error(`file ${file.id} has no multipart upload to hand out part URLs for`);
    }
    const { partUrlTtlSeconds: ttl, partUrlSecret, publicUrl } = this.config.upload;
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const expiresAt = new Date(expires * 1000).toISOString();
    const answersOf = async (slice: readonly PlannedPart[]): Promise<PartUrl[]> => {
      const storageUrls =
        via === 'service'
          ? undefined
          : await this.storage.presignUploadParts(
              file.storageKey,
              uploadId,
              slice.map((plan) => plan.partNumber),
              ttl,
            );
      return slice.map((plan, i) => {
        const { partNumber, partSize } = plan;
        // an offset not known (a part asked for alone, out of order, without one) is the usual
        // split's: every part before it of this part's size (within the file)
        const partOffset = plan.partOffset ?? Math.min((partNumber - 1) * partSize, length - partSize);
        const partId = `${file.revisionOf ?? file.id}-${partNumber}`;
        const uploadUrl =
          storageUrls?.[i] ??
          partUploadUrl(publicUrl ?? origin, partUrlSecret, { fileId: file.id, partNumber, expires });
        // two literals, not a spread: objects of two fixed shapes, which JSON.stringify walks fast;
        // hashCtx in its place (after partOffset) when the client sent one
        return plan.hashWords === null
          ? { partNumber, partSize, partOffset, partId, uploadUrl, uploadVia: via, expiresAt }
          : { partNumber, partSize, partOffset, hashCtx: plan.hashWords, partId, uploadUrl, uploadVia: via, expiresAt };
      });
    };
    if (plans.length <= SLICE) {
      return answersOf(plans);
    }
    const list = new JsonListWriter();
    for (let start = 0; start < plans.length; start += SLICE) {
      if (start > 0) {
        await yieldToLoop();
      }
      list.add(await answersOf(plans.slice(start, start + SLICE)));
    }
    return list.done();
  }
}

// parts planned, or their answers built, between two turns of the event loop
const SLICE = 1000;
