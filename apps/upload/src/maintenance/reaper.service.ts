// Ends uploads nobody completed in time: marks them EXPIRED (freeing their folder names), then
// aborts their multipart uploads so the storage frees the parts. The database goes first, so no
// complete can start on an upload being aborted; an abort that fails is retried on later runs
// (the row keeps its upload id until the abort succeeded). Expiry (UPLOAD_TASK_TTL_SECONDS) must
// be shorter than any lifecycle rule with which the storage purges incomplete uploads itself.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { MaintenanceRepository } from '@koodrive/database';
import { ApiCode } from '@koodrive/errors';
import { maintenanceActions } from '@koodrive/metrics';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';

const BATCH = 100;

export interface ReapReport {
  expired: number;
  freed: number;
  failed: number;
}

@Injectable()
export class ReaperService {
  private readonly logger = new Logger(ReaperService.name);

  constructor(
    private readonly maintenance: MaintenanceRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  async reap(): Promise<ReapReport> {
    const report: ReapReport = { expired: 0, freed: 0, failed: 0 };
    for (;;) {
      const expired = await this.maintenance.expireOverdueUploads(BATCH, ApiCode.TaskNotFound);
      report.expired += expired.length;
      if (expired.length < BATCH) {
        break;
      }
    }
    for (;;) {
      const batch = await this.maintenance.findExpiredWithUpload(BATCH);
      let freed = 0;
      for (const file of batch) {
        try {
          if (file.uploadId !== null) {
            await this.storage.abortMultipartUpload(file.storageKey, file.uploadId);
          }
          await this.maintenance.markUploadFreed(file.id);
          freed++;
        } catch (error) {
          report.failed++;
          this.logger.warn({ msg: 'could not abort an expired upload; will retry', fileId: file.id, err: error });
        }
      }
      report.freed += freed;
      // a short batch was the last; a batch where nothing could be freed waits for the next run
      if (batch.length < BATCH || freed === 0) {
        break;
      }
    }
    for (const action of ['expired', 'freed', 'failed'] as const) {
      maintenanceActions.inc({ task: 'reap', action }, report[action]);
    }
    if (report.expired + report.freed + report.failed > 0) {
      this.logger.log({ msg: 'reaped expired uploads', ...report });
    }
    return report;
  }
}
