// Where sessions, rate limits and outbox events live: Redis at REDIS_URL or, when it is unset,
// the process itself (one replica; nothing survives a restart). Either way the code depends on the
// ports (SESSION_STORE, RATE_LIMITER, EVENT_PUBLISHER, KEY_VALUE_HEALTH), chosen here at injection
// time from the validated config; in embedded mode no Redis client is created at all.
import {
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  RATE_LIMITER,
  type RateLimiter,
  REPLAY_GUARD,
  type ReplayGuard,
  SESSION_STORE,
  type SessionStore,
  USER_DIRECTORY,
  type UserDirectory,
} from '@koodrive/auth';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';
import { DEMO_USER_ID, DEMO_USER_RECORD, openDemoSession } from './demo-session.js';
import { EVENT_PUBLISHER, type EventPublisher } from './event-publisher.js';
import { KEY_VALUE_HEALTH, type KeyValueHealth } from './key-value-health.js';
import { MemoryEventPublisher } from './memory-event-publisher.js';
import { MemoryHealth } from './memory-health.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { MemoryReplayGuard } from './memory-replay-guard.js';
import { MemoryUserDirectory } from './memory-user-directory.js';
import { MemorySessionStore } from './memory-session-store.js';
import { connectRedis } from './redis-client.js';
import { RedisEventPublisher } from './redis-event-publisher.js';
import { RedisHealth } from './redis-health.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';
import { RedisReplayGuard } from './redis-replay-guard.js';
import { RedisUserDirectory } from './redis-user-directory.js';
import { RedisSessionStore } from './redis-session-store.js';

// The ioredis client, or null in embedded mode. Code uses the ports, not this.
export const REDIS = Symbol('REDIS');

const InjectRedis = (): ParameterDecorator => Inject(REDIS);

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Redis | null =>
        config.redisUrl === undefined ? null : connectRedis(config.redisUrl, config.timeouts.redisCommandMs),
    },
    {
      provide: SESSION_STORE,
      inject: [REDIS],
      useFactory: (redis: Redis | null): SessionStore =>
        redis === null ? new MemorySessionStore() : new RedisSessionStore(redis),
    },
    {
      provide: USER_DIRECTORY,
      inject: [REDIS],
      useFactory: (redis: Redis | null): UserDirectory => {
        if (redis !== null) {
          return new RedisUserDirectory(redis);
        }
        // embedded: apps (APP_CREDENTIALS) may act for the demo user
        const users = new MemoryUserDirectory();
        users.put(DEMO_USER_ID, DEMO_USER_RECORD);
        return users;
      },
    },
    {
      provide: REPLAY_GUARD,
      inject: [REDIS],
      useFactory: (redis: Redis | null): ReplayGuard =>
        redis === null ? new MemoryReplayGuard() : new RedisReplayGuard(redis),
    },
    {
      provide: RATE_LIMITER,
      inject: [REDIS, APP_CONFIG],
      useFactory: (redis: Redis | null, config: AppConfig): RateLimiter =>
        redis === null ? new MemoryRateLimiter(config.rateLimit) : new RedisRateLimiter(redis, config.rateLimit),
    },
    {
      provide: EVENT_PUBLISHER,
      inject: [REDIS, APP_CONFIG],
      useFactory: (redis: Redis | null, config: AppConfig): EventPublisher =>
        redis === null ? new MemoryEventPublisher() : new RedisEventPublisher(redis, config.maintenance.eventsStream),
    },
    {
      provide: KEY_VALUE_HEALTH,
      inject: [REDIS],
      useFactory: (redis: Redis | null): KeyValueHealth =>
        redis === null ? new MemoryHealth() : new RedisHealth(redis),
    },
  ],
  exports: [REDIS, SESSION_STORE, USER_DIRECTORY, REPLAY_GUARD, RATE_LIMITER, EVENT_PUBLISHER, KEY_VALUE_HEALTH],
})
export class RedisModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RedisModule.name);

  constructor(
    @InjectRedis() private readonly redis: Redis | null,
    @Inject(SESSION_STORE) private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.redis !== null) {
      return;
    }
    this.logger.log('embedded sessions, rate limits and events: in process (REDIS_URL unset)');
    const token = await openDemoSession(this.sessions, this.config.demoToken);
    // plain text, not a JSON log line, so a shell can paste it (eval, grep, cut)
    process.stdout.write(`KOODRIVE_TOKEN=${token}\n`);
  }

  async onApplicationShutdown(): Promise<void> {
    const redis = this.redis;
    await redis?.quit().catch(() => redis.disconnect());
  }
}
