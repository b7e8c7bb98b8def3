// The service's one Redis client, or null when REDIS_URL is unset (the embedded run: the libs that
// need Redis keep their state in the process then). Code depends on the ports the libs declare
// (sessions and rate limits in @koodrive/auth, events in @koodrive/events, quotas in
// @koodrive/quota); their Redis adapters take this client.
import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';
import { connectRedis } from './redis-client.js';

export const REDIS = Symbol('REDIS');

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Redis | null =>
        config.redisUrl === undefined ? null : connectRedis(config.redisUrl, config.timeouts.redisCommandMs),
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    const redis = this.redis;
    await redis?.quit().catch(() => redis.disconnect());
  }
}
