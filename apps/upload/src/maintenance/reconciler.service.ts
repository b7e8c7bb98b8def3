// Finishes or rolls back completions whose lease lapsed: the worker crashed (SIGKILL, OOM, node
// loss), was partitioned away, or gave up when a dependency failed. Each is claimed with a
// guarded statement, so any number of replicas can run this at once; the claimed completion
// runs exactly as a complete request's would: combined parts (or our own object, proven by token
// and size) are verified and completed; parts that do not add up go back to UPLOADING with the
// reason; a vanished upload fails with 13000401.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { CompletionRepository, MaintenanceRepository } from '@koodrive/database';
import { ApiException } from '@koodrive/errors';
import { maintenanceActions } from '@koodrive/metrics';
import { ClaimLostError, CompletionRunner } from '../files/completion-runner.js';

const BATCH = 20;

export interface ReconcileReport {
  // completed by the reconciler
  completed: number;
  // settled otherwise (rolled back to UPLOADING or failed), by outcome code
  settled: Record<number, number>;
  // a dependency failed: the lease lapses again and a later run retries
  retryLater: number;
}

@Injectable()
export class ReconcilerService {
  private readonly logger = new Logger(ReconcilerService.name);

  constructor(
    private readonly maintenance: MaintenanceRepository,
    private readonly completions: CompletionRepository,
    private readonly runner: CompletionRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { completed: 0, settled: {}, retryLater: 0 };
    for (const id of await this.maintenance.findLapsedCompletions(BATCH)) {
      const file = await this.completions.claimLapsedCompletion(id, this.config.upload.completeLeaseSeconds);
      if (file === null) {
        continue; // another replica got there first
      }
      try {
        await this.runner.run(file, 'reconciler');
        report.completed++;
        this.logger.log({ msg: 'reconciler completed a lapsed completion', fileId: id, claim: file.claim });
      } catch (error) {
        if (error instanceof ApiException) {
          report.settled[error.code] = (report.settled[error.code] ?? 0) + 1;
          this.logger.log({ msg: 'reconciler settled a lapsed completion', fileId: id, code: error.code });
        } else if (!(error instanceof ClaimLostError)) {
          report.retryLater++;
          this.logger.warn({ msg: 'reconciler could not finish a completion; will retry', fileId: id, err: error });
        }
      }
    }
    maintenanceActions.inc({ task: 'reconcile', action: 'completed' }, report.completed);
    maintenanceActions.inc(
      { task: 'reconcile', action: 'settled' },
      Object.values(report.settled).reduce((sum, n) => sum + n, 0),
    );
    maintenanceActions.inc({ task: 'reconcile', action: 'retry_later' }, report.retryLater);
    return report;
  }
}
