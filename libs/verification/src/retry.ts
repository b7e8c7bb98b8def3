import { setTimeout as sleep } from 'node:timers/promises';

// Runs `work`, and again after a failure (backing off 100, 200, 400 ms...) up to `retries` more
// times; no further attempt (nor wait for one) once `signal` is aborted.
export async function withRetries<T>(
  options: { readonly retries: number; readonly retryDelayMs?: number },
  work: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= options.retries || signal?.aborted === true) {
        throw error;
      }
      await sleep((options.retryDelayMs ?? 100) * 2 ** attempt, undefined, { signal });
    }
  }
}
