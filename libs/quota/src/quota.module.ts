import { Global, Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS } from '@koodrive/redis';
import { NO_QUOTA_RECORD, QUOTA_STORE, type QuotaStore } from './quota.store.js';
import { RedisQuotaStore } from './redis-quota.store.js';

// No accounting in process: the embedded service has no quota.
const NO_QUOTA: QuotaStore = { find: () => Promise.resolve(NO_QUOTA_RECORD) };

@Global()
@Module({
  providers: [
    {
      provide: QUOTA_STORE,
      inject: [REDIS],
      useFactory: (redis: Redis | null): QuotaStore => (redis === null ? NO_QUOTA : new RedisQuotaStore(redis)),
    },
  ],
  exports: [QUOTA_STORE],
})
export class QuotaModule {}
