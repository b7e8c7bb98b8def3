import { Module } from '@nestjs/common';
import { PartUploadController } from './part-upload.controller.js';
import { PartUploadService } from './part-upload.service.js';

// The service's own part URLs (uploadVia service): the PUT that streams a part to storage.
@Module({
  controllers: [PartUploadController],
  providers: [PartUploadService],
})
export class PartsModule {}
