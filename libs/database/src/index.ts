export { DatabaseModule } from './database.module.js';
export { type CompletedMatch, FileNameTakenError, FileRepository } from './file.repository.js';
export { PrismaService } from './prisma.service.js';
export type { FileStatus, NewUploadFile, PartPlan, UploadFile } from './upload-file.js';
