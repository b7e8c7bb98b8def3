import type { Redis } from 'ioredis';
import type { ReplayGuard } from './replay-guard.js';
import { redisCommand } from '@koodrive/redis';

const REPLAY_KEY_PREFIX = 'koodrive:app-signature:';

// One SET NX EX per signed request: the first replica to see a signature wins.
export class RedisReplayGuard implements ReplayGuard {
  constructor(private readonly redis: Redis) {}

  async firstUse(key: string, ttlSeconds: number): Promise<boolean> {
    const set = await redisCommand('SET', () => this.redis.set(REPLAY_KEY_PREFIX + key, '1', 'EX', ttlSeconds, 'NX'));
    return set === 'OK';
  }
}
