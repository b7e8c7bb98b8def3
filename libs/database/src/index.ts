export { DatabaseModule } from './database.module.js';
export {
  type CompletedMatch,
  type EventTrace,
  type ExpiredUpload,
  FILE_COMPLETED,
  FileNameTakenError,
  FileRepository,
  type PartPutRefusal,
} from './file.repository.js';
export { type OutboxMessage, OutboxRepository } from './outbox.repository.js';
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
