import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';

export const REDIS = Symbol('REDIS');

export const InjectRedis = (): ParameterDecorator => Inject(REDIS);

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const redis = new Redis(config.redisUrl, {
          // fail a command fast when Redis is down, so the caller can answer 503
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
          retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
        });
        // commands fail on their own (answered 503); the connection's state is logged once per outage
        const logger = new Logger('Redis');
        let down = false;
        redis.on('error', (error: Error) => {
          if (!down) {
            down = true;
            logger.warn({ msg: 'Redis connection lost; reconnecting', err: error.message });
          }
        });
        redis.on('ready', () => {
          if (down) {
            down = false;
            logger.log({ msg: 'Redis connection back' });
          }
        });
        return redis;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
