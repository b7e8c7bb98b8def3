import type { ReplayGuard } from './replay-guard.js';

// Signatures seen by this process (REDIS_URL unset), each forgotten once its window has passed.
export class MemoryReplayGuard implements ReplayGuard {
  // key -> epoch ms it is forgotten at
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  firstUse(key: string, ttlSeconds: number): Promise<boolean> {
    const now = this.now();
    for (const [seenKey, forgetAt] of this.seen) {
      if (forgetAt <= now) {
        this.seen.delete(seenKey);
      }
    }
    if (this.seen.has(key)) {
      return Promise.resolve(false);
    }
    this.seen.set(key, now + ttlSeconds * 1000);
    return Promise.resolve(true);
  }
}
