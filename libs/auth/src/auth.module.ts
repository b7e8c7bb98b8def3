import { Module } from '@nestjs/common';
import { UploadAuthGuard } from './upload-auth.guard.js';

// The guard's SESSION_STORE and RATE_LIMITER come from the global RedisModule (Redis or in process).
@Module({
  providers: [UploadAuthGuard],
  exports: [UploadAuthGuard],
})
export class AuthModule {}
