import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { DependencyUnavailableError } from '@koodrive/errors';
import { timeDependency } from '@koodrive/metrics';
import { InjectRedis } from '@koodrive/redis';

const RATE_LIMIT_KEY_PREFIX = 'koodrive:ratelimit:';

interface RateDecision {
  readonly allowed: boolean;
  // seconds until the user's window ends (when not allowed)
  readonly retryAfterSeconds: number;
}

// Per-user fixed window in Redis, shared by every replica: one INCR (and the window's expiry on
// its first request) per call.
@Injectable()
export class RateLimiter {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async consume(userId: string): Promise<RateDecision> {
    const { requests, windowSeconds } = this.config.rateLimit;
    if (requests === 0) {
      return { allowed: true, retryAfterSeconds: 0 };
    }
    const key = `${RATE_LIMIT_KEY_PREFIX}${userId}`;
    let results: [Error | null, unknown][] | null;
    try {
      results = await timeDependency('redis', 'MULTI', () =>
        this.redis.multi().incr(key).expire(key, windowSeconds, 'NX').ttl(key).exec(),
      );
    } catch (error) {
      throw new DependencyUnavailableError('redis', error);
    }
    const count = Number(results?.[0]?.[1]);
    const ttl = Number(results?.[2]?.[1]);
    return { allowed: count <= requests, retryAfterSeconds: Math.max(1, ttl) };
  }
}
