// The per-user rate limit: a fixed window per user. On Redis it is counted by RedisAdmission's
// scripts (shared by every replica); MemoryRateLimiter counts it in the process (REDIS_URL unset).
export interface RateDecision {
  readonly allowed: boolean;
  // seconds until the user's window ends (when not allowed)
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  // Counts one request of the user against its window.
  consume(userId: string): Promise<RateDecision>;
}
