import type { Redis } from 'ioredis';
import { parseUserRecord, type UserRecord, userKey } from '@koodrive/protocol';
import { type UserDirectory } from './user-directory.js';
import { redisCommand } from '@koodrive/redis';

// User records as KooDrive's user service writes them: JSON under koodrive:user:<userId>.
export class RedisUserDirectory implements UserDirectory {
  constructor(private readonly redis: Redis) {}

  async find(userId: string): Promise<UserRecord | null> {
    const raw = await redisCommand('GET', () => this.redis.get(userKey(userId)), { wrongType: null });
    return raw === null ? null : parseUserRecord(raw);
  }
}
