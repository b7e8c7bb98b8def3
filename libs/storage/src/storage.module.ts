import { Global, Module, type OnApplicationShutdown, Inject } from '@nestjs/common';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';
import { OBJECT_STORAGE } from './object-storage.js';
import { S3ObjectStorage } from './s3-object-storage.js';

@Global()
@Module({
  providers: [
    {
      provide: OBJECT_STORAGE,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new S3ObjectStorage(config.s3),
    },
  ],
  exports: [OBJECT_STORAGE],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(OBJECT_STORAGE) private readonly storage: S3ObjectStorage) {}

  onApplicationShutdown(): void {
    this.storage.destroy();
  }
}
