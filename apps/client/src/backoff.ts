// Exponential backoff with full jitter, shared by the API calls and the part PUTs.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  // attempts in all, the first included
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, maxMs: 20_000 };

// The wait before retry number `retry` (1 for the first retry): uniformly random up to
// base * 2^(retry-1), capped, so clients that failed together do not come back together.
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling * random());
}

// A server's Retry-After (seconds or an HTTP date) in ms, capped; null when absent or unreadable.
export function retryAfterMs(header: string | null, maxMs: number, now = Date.now()): number | null {
  if (header === null || header.trim() === '') {
    return null;
  }
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.min(maxMs, Math.max(0, ms)) : null;
}

export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms > 0) {
    await sleep(ms, undefined, { signal });
  } else {
    signal?.throwIfAborted();
  }
}

// fetch's own failures (connection refused or reset, DNS, socket closed): worth another try.
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && !isAbort(error);
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
