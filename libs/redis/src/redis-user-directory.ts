import type { Redis } from 'ioredis';
import { parseUserRecord, type UserDirectory, type UserRecord, userKey } from '@koodrive/auth';
import { redisCommand } from './redis-client.js';

// User records as KooDrive's user service writes them: JSON under koodrive:user:<userId>.
export class RedisUserDirectory implements UserDirectory {
  constructor(private readonly redis: Redis) {}

  async find(userId: string): Promise<UserRecord | null> {
    const raw = await redisCommand('GET', () => this.redis.get(userKey(userId)));
    return raw === null ? null : parseUserRecord(raw);
  }
}
