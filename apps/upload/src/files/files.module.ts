import { Module } from '@nestjs/common';
import { CompleteUploadService } from './complete-upload.service.js';
import { CompletionWorker } from './completion-worker.js';
import { CreateUploadService } from './create-upload.service.js';
import { FilesController } from './files.controller.js';
import { UploadUrlService } from './upload-url.service.js';
import { PartUrlIssuer } from './part-urls.js';

@Module({
  controllers: [FilesController],
  providers: [CreateUploadService, UploadUrlService, PartUrlIssuer, CompleteUploadService, CompletionWorker],
  exports: [CompletionWorker],
})
export class FilesModule {}
