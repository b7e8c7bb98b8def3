import type { Redis } from 'ioredis';
import type { AppConfig } from '@koodrive/config';
import type { RateDecision, RateLimiter } from './rate-limiter.js';
import { redisCommand } from '@koodrive/redis';

const RATE_LIMIT_KEY_PREFIX = 'koodrive:ratelimit:';

// Per-user fixed window in Redis, shared by every replica: one INCR (and the window's expiry on
// its first request) per call.
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly limit: AppConfig['rateLimit'],
  ) {}

  async consume(userId: string): Promise<RateDecision> {
    const { requests, windowSeconds } = this.limit;
    if (requests === 0) {
      return { allowed: true, retryAfterSeconds: 0 };
    }
    const key = `${RATE_LIMIT_KEY_PREFIX}${userId}`;
    const results = await redisCommand('MULTI', () =>
      this.redis.multi().incr(key).expire(key, windowSeconds, 'NX').ttl(key).exec(),
    );
    const count = Number(results?.[0]?.[1]);
    const ttl = Number(results?.[2]?.[1]);
    return { allowed: count <= requests, retryAfterSeconds: Math.max(1, ttl) };
  }
}
