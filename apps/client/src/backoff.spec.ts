import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, retryAfterMs } from './backoff.js';

const policy = { attempts: 6, baseMs: 500, maxMs: 20_000 };

describe(backoffDelay.name, () => {
  it('doubles the ceiling with each retry, up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((retry) => backoffDelay(retry, policy, () => 1)),
      [500, 1000, 2000, 4000, 8000, 16_000, 20_000],
    );
    assert.equal(
      backoffDelay(3, policy, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(3, policy, () => 0.5),
      1000,
    );
  });
});

describe(retryAfterMs.name, () => {
  it('reads seconds and HTTP dates, capped', () => {
    assert.equal(retryAfterMs('2', 20_000), 2000);
    assert.equal(retryAfterMs('600', 20_000), 20_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', 20_000, now), 5000);
    assert.equal(retryAfterMs(null, 20_000), null);
    assert.equal(retryAfterMs('soon', 20_000), null);
  });
});
