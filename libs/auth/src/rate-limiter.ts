// The per-user rate limit port: a fixed window per user, shared by every replica (Redis) or kept
// in the process when REDIS_URL is unset.
export const RATE_LIMITER = Symbol('RATE_LIMITER');

export interface RateDecision {
  readonly allowed: boolean;
  // seconds until the user's window ends (when not allowed)
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  // Counts one request of the user against its window.
  consume(userId: string): Promise<RateDecision>;
}
