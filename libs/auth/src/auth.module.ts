// Who may call, and how often: the admission the guard asks once per request (sessions, user
// records, app signatures seen and rate limits), on Redis (REDIS_URL) in one round trip or, when it
// is unset, in the process (one replica; nothing survives a restart), chosen here at injection time
// from the validated config. In embedded
// mode the module also opens the demo user's session and prints its token once.
import { Global, Inject, Logger, Module, type OnApplicationBootstrap } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { REDIS } from '@koodrive/redis';
import { ADMISSION, type Admission } from './admission.js';
import { DEMO_USER_ID, DEMO_USER_RECORD, openDemoSession } from './demo-user.js';
import { MemoryAdmission } from './memory-admission.js';
import { MemoryProofFailures } from './memory-proof-failures.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { MemoryReplayGuard } from './memory-replay-guard.js';
import { MemorySessionStore } from './memory-session.store.js';
import { MemoryUserDirectory } from './memory-user-directory.js';
import { PROOF_FAILURES, type ProofFailures } from './proof-failures.js';
import { RedisAdmission } from './redis-admission.js';
import { RedisProofFailures } from './redis-proof-failures.js';
import { RedisSessionStore } from './redis-session.store.js';
import { SESSION_STORE, type SessionStore } from './session.store.js';
import { UploadAuthGuard } from './upload-auth.guard.js';

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
      provide: ADMISSION,
      inject: [REDIS, SESSION_STORE, APP_CONFIG],
      useFactory: (redis: Redis | null, sessions: SessionStore, config: AppConfig): Admission => {
        if (redis !== null) {
          return new RedisAdmission(redis, config.rateLimit);
        }
        // embedded: apps (APP_CREDENTIALS) may act for the demo user
        const users = new MemoryUserDirectory();
        users.put(DEMO_USER_ID, DEMO_USER_RECORD);
        return new MemoryAdmission(
          // without Redis, SESSION_STORE is the in-process store (above): the demo session is put there
          sessions as MemorySessionStore,
          users,
          new MemoryReplayGuard(),
          new MemoryRateLimiter(config.rateLimit),
        );
      },
    },
    {
      provide: PROOF_FAILURES,
      inject: [REDIS],
      useFactory: (redis: Redis | null): ProofFailures =>
        redis === null ? new MemoryProofFailures() : new RedisProofFailures(redis),
    },
    UploadAuthGuard,
  ],
  exports: [SESSION_STORE, ADMISSION, PROOF_FAILURES, UploadAuthGuard],
})
export class AuthModule implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthModule.name);
  // embedded mode: the demo user's token, once the session is open (main.ts puts it in the upload
  // page's address); undefined with Redis
  demoToken: string | undefined;

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
    this.demoToken = token;
    // plain text, not a JSON log line, so a shell can paste it (eval, grep, cut)
    process.stdout.write(`KOODRIVE_TOKEN=${token}\n`);
  }
}
