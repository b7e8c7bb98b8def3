import type { AppConfig } from '@koodrive/config';
import type { RateDecision, RateLimiter } from './rate-limiter.js';

interface Window {
  count: number;
  // epoch ms
  readonly endsAt: number;
}

// The per-user fixed window of RedisAdmission, counted in the process (REDIS_URL unset).
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>();
  private nextSweepAt = 0;

  constructor(
    private readonly limit: AppConfig['rateLimit'],
    private readonly now: () => number = Date.now,
  ) {}

  consume(userId: string, units: number): Promise<RateDecision> {
    const { requests, windowSeconds } = this.limit;
    if (requests === 0) {
      return Promise.resolve({ allowed: true, retryAfterSeconds: 0 });
    }
    const now = this.now();
    this.sweep(now, windowSeconds * 1000);
    let window = this.windows.get(userId);
    if (window === undefined || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowSeconds * 1000 };
      this.windows.set(userId, window);
    }
    window.count += units;
    return Promise.resolve({
      allowed: window.count <= requests,
      retryAfterSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)),
    });
  }

  // Ended windows go once per window length, so users seen once do not stay in the map.
  private sweep(now: number, windowMs: number): void {
    if (now < this.nextSweepAt) {
      return;
    }
    this.nextSweepAt = now + windowMs;
    for (const [userId, window] of this.windows) {
      if (window.endsAt <= now) {
        this.windows.delete(userId);
      }
    }
  }
}
