import { Inject, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { FilesModule } from '../files/files.module.js';
import { OutboxPartitionsService } from './outbox-partitions.service.js';
import { OutboxRelayService } from './outbox-relay.service.js';
import { PeriodicJob } from './periodic-job.js';
import { ReaperService } from './reaper.service.js';
import { ReconcilerService } from './reconciler.service.js';

// Starts the background jobs once the app is up and stops them (waiting for a run in progress)
// before the database and Redis connections close.
@Module({
  imports: [FilesModule],
  providers: [ReconcilerService, ReaperService, OutboxRelayService, OutboxPartitionsService],
  exports: [ReconcilerService, ReaperService, OutboxRelayService, OutboxPartitionsService],
})
export class MaintenanceModule implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly jobs: PeriodicJob[];

  constructor(
    reconciler: ReconcilerService,
    reaper: ReaperService,
    relay: OutboxRelayService,
    partitions: OutboxPartitionsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const { reconcileIntervalSeconds, reapIntervalSeconds, outboxRelayIntervalMs, outboxPartitionIntervalSeconds } =
      config.maintenance;
    this.jobs = [
      new PeriodicJob('reconcile', reconcileIntervalSeconds * 1000, async () => void (await reconciler.reconcile())),
      new PeriodicJob('reap', reapIntervalSeconds * 1000, async () => void (await reaper.reap())),
      new PeriodicJob('outbox-relay', outboxRelayIntervalMs, async () => void (await relay.relay())),
      new PeriodicJob(
        'outbox-partitions',
        outboxPartitionIntervalSeconds * 1000,
        async () => void (await partitions.maintain()),
      ),
    ];
  }

  onApplicationBootstrap(): void {
    for (const job of this.jobs) {
      job.start();
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.jobs.map((job) => job.stop()));
  }
}
