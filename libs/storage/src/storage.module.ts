import path from 'node:path';
import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';
import { DiskObjectStorage } from './disk-object-storage.js';
import { OBJECT_STORAGE, type ObjectStorage } from './object-storage.js';
import { S3ObjectStorage } from './s3-object-storage.js';

// S3 when S3_ENDPOINT is set; else the embedded store on local disk under dataDir.
async function createObjectStorage(config: AppConfig): Promise<ObjectStorage> {
  if (config.s3.endpoint !== undefined) {
    return new S3ObjectStorage(config.s3, {
      connectMs: config.timeouts.storageConnectMs,
      idleMs: config.timeouts.storageIdleMs,
      requestMs: config.timeouts.storageRequestMs,
      combineMs: config.timeouts.storageCombineMs,
    });
  }
  const root = path.resolve(config.dataDir, 'objects');
  const storage = await DiskObjectStorage.open(root);
  new Logger('StorageModule').log(`embedded object storage: local disk at ${root} (S3_ENDPOINT unset)`);
  return storage;
}

@Global()
@Module({
  providers: [{ provide: OBJECT_STORAGE, inject: [APP_CONFIG], useFactory: createObjectStorage }],
  exports: [OBJECT_STORAGE],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage) {}

  onApplicationShutdown(): void {
    // the disk store holds nothing open between calls
    if (this.storage instanceof S3ObjectStorage) {
      this.storage.destroy();
    }
  }
}
