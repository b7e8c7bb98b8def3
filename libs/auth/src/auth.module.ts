import { Module } from '@nestjs/common';
import { SessionStore } from './session.store.js';
import { UploadAuthGuard } from './upload-auth.guard.js';

@Module({
  providers: [SessionStore, UploadAuthGuard],
  exports: [SessionStore, UploadAuthGuard],
})
export class AuthModule {}
