import { Injectable } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { UploadTaskRepository } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import type { UploadUrlDto } from './dto/upload-url.dto.js';
import { callersOpenFile } from './open-file.js';
import { type PartUrlList, PartUrlIssuer } from './part-urls.js';

@Injectable()
export class UploadUrlService {
  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly partUrls: PartUrlIssuer,
  ) {}

  // `origin`: where the client reached this service, for its own part URLs when PUBLIC_URL is unset.
  // A completed file's id addresses its newest version (createRevision), if it has one: the pending
  // one; one expired or superseded answers 13000401, as its own id would.
  async presign(principal: Principal, dto: UploadUrlDto, origin: string): Promise<{ multiParts: PartUrlList }> {
    // the plans of the parts not asked for again: where the asked ones must fit
    const found = await this.tasks.findWithPlans(
      dto.fileId,
      principal.userId,
      dto.multiParts.map((part) => part.partNumber),
    );
    const file = callersOpenFile(principal, found?.file ?? null);
    if (file.uploadId === null) {
      throw new ApiException(ApiCode.StatusChangeFailed, { detail: 'the file needs no parts' });
    }
    const plans = await this.partUrls.plan(file.length, dto.multiParts, found!.plans);
    const via = this.partUrls.via(dto.uploadVia);
    // the file must still be open; only what changed is written (savePartPlans: asking again for
    // the same 10,000 parts rewrites none of them)
    if (!(await this.tasks.savePartPlans(file.id, plans, via === 'service'))) {
      throw ApiException.notOpenForUpload();
    }
    return { multiParts: await this.partUrls.sign(file, plans, via, origin) };
  }
}
