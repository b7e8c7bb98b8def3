import type { Redis } from 'ioredis';
import { parseSessionRecord, type SessionRecord, SESSION_TTL_SECONDS, sessionKey } from '@koodrive/protocol';
import type { SessionStore } from './session.store.js';
import { redisCommand } from '@koodrive/redis';

// Sessions as KooDrive's session service writes them: JSON under koodrive:session:<sha256(token)>.
export class RedisSessionStore implements SessionStore {
  constructor(private readonly redis: Redis) {}

  // Reads the session and restarts its 20 minutes in one command.
  async touch(token: string): Promise<SessionRecord | null> {
    const raw = await redisCommand('GETEX', () => this.redis.getex(sessionKey(token), 'EX', SESSION_TTL_SECONDS), {
      wrongType: null,
    });
    return raw === null ? null : parseSessionRecord(raw);
  }

  async put(token: string, session: SessionRecord, ttlSeconds: number): Promise<void> {
    // a Redis key cannot outlive its next GETEX EX, so no session here is kept forever
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`a Redis session TTL is a whole number of seconds, got ${ttlSeconds}`);
    }
    await redisCommand('SET', () => this.redis.set(sessionKey(token), JSON.stringify(session), 'EX', ttlSeconds));
  }
}
