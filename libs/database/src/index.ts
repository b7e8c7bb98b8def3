export { type Claimant, CompletionRepository } from './completion.repository.js';
export { DatabaseModule } from './database.module.js';
export {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from './embedded-postgres-loader.js';
export { type EventTrace, FILE_COMPLETED, FILE_REVISION_COMPLETED } from './file-events.js';
export { type ExpiredUpload, MaintenanceRepository } from './maintenance.repository.js';
export { type OutboxPartitionsReport, OutboxPartitionsRepository } from './outbox-partitions.repository.js';
export { type OutboxMessage, OutboxRepository } from './outbox.repository.js';
export { type PartPutRefusal, PartPutRepository } from './part-put.repository.js';
export { PrismaService } from './prisma.service.js';
export type {
  FileStatus,
  NewUploadFile,
  PartPlan,
  PartPut,
  PartRecord,
  UploadedPartHash,
  UploadFile,
} from './upload-file.js';
export { type UploadLimits, UploadRefusedError } from './new-rows.js';
export { type CompletedMatch, FileNameTakenError, UploadTaskRepository } from './upload-task.repository.js';
export { type NewVersion, type SupersededUpload, VersionBusyError, VersionRepository } from './version.repository.js';
