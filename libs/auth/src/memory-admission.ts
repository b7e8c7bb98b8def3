import type { Admission, AdmittedApp, AdmittedSession } from './admission.js';
import type { MemoryRateLimiter } from './memory-rate-limiter.js';
import type { MemoryReplayGuard } from './memory-replay-guard.js';
import type { MemorySessionStore } from './memory-session.store.js';
import type { MemoryUserDirectory } from './memory-user-directory.js';

// Admission in the process (REDIS_URL unset): the in-process ports asked in turn, as RedisAdmission's
// scripts ask Redis.
export class MemoryAdmission implements Admission {
  constructor(
    private readonly sessions: MemorySessionStore,
    private readonly users: MemoryUserDirectory,
    private readonly replays: MemoryReplayGuard,
    private readonly rateLimiter: MemoryRateLimiter,
  ) {}

  async session(token: string, units: number): Promise<AdmittedSession | null> {
    const session = await this.sessions.touch(token);
    return session === null ? null : { session, rate: await this.rateLimiter.consume(session.userId, units) };
  }

  async app(signature: string, replayWindowSeconds: number, userId: string, units: number): Promise<AdmittedApp> {
    if (!(await this.replays.firstUse(signature, replayWindowSeconds))) {
      return { kind: 'replayed' };
    }
    const user = await this.users.find(userId);
    if (user === null) {
      return { kind: 'no-user' };
    }
    return { kind: 'admitted', user, rate: await this.rateLimiter.consume(userId, units) };
  }
}
