import { Module } from '@nestjs/common';
import { RateLimiter } from './rate-limiter.js';
import { SessionStore } from './session.store.js';
import { UploadAuthGuard } from './upload-auth.guard.js';

@Module({
  providers: [SessionStore, RateLimiter, UploadAuthGuard],
  exports: [SessionStore, RateLimiter, UploadAuthGuard],
})
export class AuthModule {}
