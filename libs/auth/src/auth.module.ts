// Who may call, and how often: the session, user-record, replay and rate-limit ports the guard
// uses, each on Redis (REDIS_URL) or, when it is unset, in the process (one replica; nothing
// survives a restart), chosen here at injection time from the validated config. In embedded
// mode the module also opens the demo user's session and prints its token once.
import { Global, Inject, Logger, Module, type OnApplicationBootstrap } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { REDIS } from '@koodrive/redis';
import { DEMO_USER_ID, DEMO_USER_RECORD, openDemoSession } from './demo-user.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { MemoryReplayGuard } from './memory-replay-guard.js';
import { MemorySessionStore } from './memory-session.store.js';
import { MemoryUserDirectory } from './memory-user-directory.js';
import { RATE_LIMITER, type RateLimiter } from './rate-limiter.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';
import { RedisReplayGuard } from './redis-replay-guard.js';
import { RedisSessionStore } from './redis-session.store.js';
import { RedisUserDirectory } from './redis-user-directory.js';
import { REPLAY_GUARD, type ReplayGuard } from './replay-guard.js';
import { SESSION_STORE, type SessionStore } from './session.store.js';
import { UploadAuthGuard } from './upload-auth.guard.js';
import { USER_DIRECTORY, type UserDirectory } from './user-directory.js';

@Global()
@Module({
  providers: [
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
    UploadAuthGuard,
  ],
  exports: [SESSION_STORE, USER_DIRECTORY, REPLAY_GUARD, RATE_LIMITER, UploadAuthGuard],
})
export class AuthModule implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthModule.name);

  constructor(
    @Inject(REDIS) private readonly redis: Redis | null,
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
}
