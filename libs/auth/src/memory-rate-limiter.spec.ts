import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from './memory-rate-limiter.js';

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe(MemoryRateLimiter.name, () => {
  it('allows `requests` per window, then answers the seconds left in the window', async () => {
    const time = clock();
    const limiter = new MemoryRateLimiter({ requests: 3, windowSeconds: 30 }, time.now);
    for (let i = 0; i < 3; i++) {
      assert.equal((await limiter.consume('u-1', 1)).allowed, true);
    }
    time.advance(10_500);
    assert.deepEqual(await limiter.consume('u-1', 1), { allowed: false, retryAfterSeconds: 20 });
    time.advance(19_000);
    assert.deepEqual(await limiter.consume('u-1', 1), { allowed: false, retryAfterSeconds: 1 });
  });

  it('starts a new window once the last one has ended', async () => {
    const time = clock();
    const limiter = new MemoryRateLimiter({ requests: 1, windowSeconds: 30 }, time.now);
    assert.equal((await limiter.consume('u-1', 1)).allowed, true);
    assert.equal((await limiter.consume('u-1', 1)).allowed, false);
    time.advance(30_000);
    assert.deepEqual(await limiter.consume('u-1', 1), { allowed: true, retryAfterSeconds: 30 });
    assert.equal((await limiter.consume('u-1', 1)).allowed, false);
  });

  it('counts each user on their own', async () => {
    const limiter = new MemoryRateLimiter({ requests: 1, windowSeconds: 30 });
    assert.equal((await limiter.consume('u-1', 1)).allowed, true);
    assert.equal((await limiter.consume('u-1', 1)).allowed, false);
    assert.equal((await limiter.consume('u-2', 1)).allowed, true);
  });

  it('allows everything when the limit is off (0 requests)', async () => {
    const limiter = new MemoryRateLimiter({ requests: 0, windowSeconds: 30 });
    for (let i = 0; i < 100; i++) {
      assert.deepEqual(await limiter.consume('u-1', 1), { allowed: true, retryAfterSeconds: 0 });
    }
  });
});
