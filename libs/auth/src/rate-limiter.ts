// The per-user rate limit: a fixed window per user. On Redis it is counted by RedisAdmission's
// scripts (shared by every replica); MemoryRateLimiter counts it in the process (REDIS_URL unset).
export interface RateDecision {
  readonly allowed: boolean;
  // seconds until the user's window ends (when not allowed)
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  // Counts a request of the user, weighing `units` (API.md, "Rate limit"), against its window.
  consume(userId: string, units: number): Promise<RateDecision>;
}

// What a request weighs: 1, and a create or uploadUrl that lists parts 1 + ceil(parts / 100) (API.md).
export const PARTS_PER_UNIT = 100;

export function requestUnits(parts: number): number {
  return parts > 0 ? 1 + Math.ceil(parts / PARTS_PER_UNIT) : 1;
}
