import { Module } from '@nestjs/common';
import { CompleteRevisionService } from './complete-revision.service.js';
import { CompleteUploadService } from './complete-upload.service.js';
import { CompletionRunner } from './completion-runner.js';
import { CreateRevisionService } from './create-revision.service.js';
import { CreateUploadService } from './create-upload.service.js';
import { FilesController } from './files.controller.js';
import { PartUrlIssuer } from './part-urls.js';
import { RevisionsController } from './revisions.controller.js';
import { UploadOpener } from './upload-opener.service.js';
import { UploadUrlService } from './upload-url.service.js';

@Module({
  controllers: [FilesController, RevisionsController],
  providers: [
    UploadOpener,
    CreateUploadService,
    CreateRevisionService,
    UploadUrlService,
    PartUrlIssuer,
    CompleteUploadService,
    CompleteRevisionService,
    CompletionRunner,
  ],
  exports: [CompletionRunner],
})
export class FilesModule {}
