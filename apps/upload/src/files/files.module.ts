import { Module } from '@nestjs/common';
import { CompleteUploadService } from './complete-upload.service.js';
import { CompletionRunner } from './completion-runner.js';
import { CreateUploadService } from './create-upload.service.js';
import { FilesController } from './files.controller.js';
import { UploadUrlService } from './upload-url.service.js';
import { PartUrlIssuer } from './part-urls.js';

@Module({
  controllers: [FilesController],
  providers: [CreateUploadService, UploadUrlService, PartUrlIssuer, CompleteUploadService, CompletionRunner],
  exports: [CompletionRunner],
})
export class FilesModule {}
