// Keeps the outbox's days when pg_partman partitions it (see @koodrive/migrations, partitioning.ts):
// makes the days ahead and drops, with one DROP TABLE each, the days past OUTBOX_RETENTION_DAYS
// whose events are all published. Every replica runs it; pg_partman lets one at a time through.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { OutboxPartitionsRepository, type OutboxPartitionsReport } from '@koodrive/database';
import { maintenanceActions } from '@koodrive/metrics';

@Injectable()
export class OutboxPartitionsService {
  private readonly logger = new Logger(OutboxPartitionsService.name);

  constructor(
    private readonly partitions: OutboxPartitionsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async maintain(): Promise<OutboxPartitionsReport> {
    const report = await this.partitions.maintain(this.config.maintenance.outboxRetentionDays);
    maintenanceActions.inc({ task: 'outbox-partitions', action: 'dropped' }, report.dropped);
    if (report.dropped > 0) {
      this.logger.log({ msg: 'dropped published outbox days past the retention', dropped: report.dropped });
    }
    return report;
  }
}
