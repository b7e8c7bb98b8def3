import {
  PROOF_FAILURE_LIMIT,
  PROOF_FAILURE_WINDOW_SECONDS,
  proofFailureKey,
  type ProofFailures,
} from './proof-failures.js';

const SWEEP_AT = 10_000;

interface Count {
  n: number;
  // epoch ms
  readonly endsAt: number;
}

// RedisProofFailures' counts in the process (REDIS_URL unset); ended windows are dropped when met.
export class MemoryProofFailures implements ProofFailures {
  private readonly counts = new Map<string, Count>();

  constructor(private readonly now: () => number = Date.now) {}

  exhausted(userId: string, sha256: string): Promise<boolean> {
    const count = this.live(proofFailureKey(userId, sha256));
    return Promise.resolve(count !== undefined && count.n >= PROOF_FAILURE_LIMIT);
  }

  record(userId: string, sha256: string): Promise<void> {
    const key = proofFailureKey(userId, sha256);
    const count = this.live(key);
    if (count === undefined) {
      this.sweep();
      this.counts.set(key, { n: 1, endsAt: this.now() + PROOF_FAILURE_WINDOW_SECONDS * 1000 });
    } else {
      count.n += 1;
    }
    return Promise.resolve();
  }

  // ended windows go once the map is large, so it stays bounded by what one window can hold
  private sweep(): void {
    if (this.counts.size < SWEEP_AT) {
      return;
    }
    const now = this.now();
    for (const [key, count] of this.counts) {
      if (count.endsAt <= now) {
        this.counts.delete(key);
      }
    }
  }

  private live(key: string): Count | undefined {
    const count = this.counts.get(key);
    if (count !== undefined && count.endsAt <= this.now()) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }
}
