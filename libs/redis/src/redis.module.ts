// The service's one Redis client (REDIS_URL, or the primary REDIS_SENTINELS name), or null when
// neither is set (the embedded run: the libs that need Redis keep their state in the process then).
// Code depends on the ports the libs declare (sessions and rate limits in @koodrive/auth, events in
// @koodrive/events, quotas in @koodrive/quota); their Redis adapters take this client.
import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';
import { connectRedis } from './redis-client.js';

export const REDIS = Symbol('REDIS');
// A second connection, for commands that may block it (the event publisher's WAIT for replicas):
// the requests' commands never queue behind them.
export const BLOCKING_REDIS = Symbol('BLOCKING_REDIS');

function connect(config: AppConfig): Redis | null {
  const { redisUrl: url, redisSentinel: sentinel } = config;
  if (sentinel !== undefined) {
    return connectRedis({ url, sentinel }, config.timeouts.redisCommandMs);
  }
  return url === undefined ? null : connectRedis(url, config.timeouts.redisCommandMs);
}

@Global()
@Module({
  providers: [
    { provide: REDIS, inject: [APP_CONFIG], useFactory: connect },
    { provide: BLOCKING_REDIS, inject: [APP_CONFIG], useFactory: connect },
  ],
  exports: [REDIS, BLOCKING_REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(BLOCKING_REDIS) private readonly blocking: Redis | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([close(this.redis), close(this.blocking)]);
  }
}

async function close(redis: Redis | null): Promise<void> {
  await redis?.quit().catch(() => redis.disconnect());
}
