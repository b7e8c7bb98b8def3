import { Injectable } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { UploadTaskRepository } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import type { UploadUrlDto } from './dto/upload-url.dto.js';
import { callersOpenFile } from './open-file.js';
import { type PartUrl, PartUrlIssuer } from './part-urls.js';
import type { PlannedPart } from './part-rules.js';
import type { PartRecord } from '@koodrive/database';

@Injectable()
export class UploadUrlService {
  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly partUrls: PartUrlIssuer,
  ) {}

  // `origin`: where the client reached this service, for its own part URLs when PUBLIC_URL is unset.
  // A completed file's id addresses its newest version (createRevision), if it has one: the pending
  // one; one expired or superseded answers 13000401, as its own id would.
  async presign(principal: Principal, dto: UploadUrlDto, origin: string): Promise<{ multiParts: PartUrl[] }> {
    const found = await this.tasks.findWithPlans(dto.fileId, principal.userId);
    const file = callersOpenFile(principal, found?.file ?? null);
    if (file.uploadId === null) {
      throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'the file needs no parts' });
    }
    const plans = this.partUrls.plan(file.length, dto.multiParts, found!.plans);
    const via = this.partUrls.via(dto.uploadVia);
    // the file must still be open; only what changed is written (asking again for the same
    // 10,000 parts writes none of them)
    if (
      !(await this.tasks.savePartPlans(file.id, unsaved(plans, found!.plans, via === 'service'), via === 'service'))
    ) {
      throw ApiException.notOpenForUpload();
    }
    return { multiParts: await this.partUrls.sign(file, plans, via, origin) };
  }
}

// The plans that differ from the stored ones: a part not planned before, another size, offset or
// hashCtx, or a part so far through the service only now given a URL straight to storage (which
// clears viaServiceOnly for good; see savePartPlans).
export function unsaved(
  plans: readonly PlannedPart[],
  stored: readonly PartRecord[],
  viaService: boolean,
): PlannedPart[] {
  const byNumber = new Map(stored.map((plan) => [plan.partNumber, plan]));
  return plans.filter((plan) => {
    const before = byNumber.get(plan.partNumber);
    return (
      before === undefined ||
      before.partSize !== plan.partSize ||
      before.partOffset !== plan.partOffset ||
      before.hashCtx !== plan.hashCtx ||
      (before.viaServiceOnly && !viaService)
    );
  });
}
