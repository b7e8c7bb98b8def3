// When to try again, and how long to wait first: exponential backoff with full jitter, or the
// server's Retry-After (seconds or an HTTP date), both capped. Timers only: runs in a browser too.

export interface RetryPolicy {
  // attempts in all, the first included
  readonly attempts: number;
  readonly baseMs: number;
  // the longest wait, Retry-After included
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, maxMs: 20_000 };

// The wait before retry number `retry` (1 for the first retry): uniformly random up to
// base * 2^(retry-1), capped, so clients that failed together do not come back together.
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling * random());
}

// A server's Retry-After (delay-seconds or an HTTP date, RFC 9110 10.2.3) in ms, capped; null when
// absent or unreadable.
export function retryAfterMs(header: string | null, maxMs: number, now = Date.now()): number | null {
  if (header === null || header.trim() === '') {
    return null;
  }
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.min(maxMs, Math.max(0, ms)) : null;
}

// The wait before retry number `retry`: the server's Retry-After when it gave one, else backoff.
export function retryDelay(retry: number, policy: RetryPolicy, retryAfter: string | null = null): number {
  return retryAfterMs(retryAfter, policy.maxMs) ?? backoffDelay(retry, policy);
}

// What an aborted signal ends a wait with: its reason when that is an error, else an AbortError.
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
}

export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// A request that got no answer (refused, reset, stalled): a transport throws this, fetch throws a
// TypeError. Either is worth another try; an abort is not.
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

export function isNetworkError(error: unknown): boolean {
  return error instanceof NetworkError || (error instanceof TypeError && error.name !== 'AbortError');
}

// The code of the system error under a fetch failure (ECONNREFUSED...), where the platform says.
export function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

// Whether a PUT that answered `status` is worth sending again (a timeout, too many, a server error).
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
