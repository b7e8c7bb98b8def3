import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, isNetworkError, NetworkError, pause, retryAfterMs } from './retry.js';

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
    // a date already past: at once
    assert.equal(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', 20_000, now), 0);
    assert.equal(retryAfterMs(null, 20_000), null);
    assert.equal(retryAfterMs('soon', 20_000), null);
  });
});

describe(pause.name, () => {
  it("ends at once with the signal's reason when aborted", async () => {
    const stop = new AbortController();
    const waiting = pause(60_000, stop.signal);
    stop.abort(new Error('stopped'));
    await assert.rejects(waiting, /stopped/);
    await assert.rejects(pause(10, AbortSignal.abort()), { name: 'AbortError' });
  });
});

describe(isNetworkError.name, () => {
  it("takes fetch's TypeError and a transport's NetworkError, not an abort", () => {
    assert.equal(isNetworkError(new TypeError('fetch failed')), true);
    assert.equal(isNetworkError(new NetworkError('reset')), true);
    assert.equal(isNetworkError(new DOMException('aborted', 'AbortError')), false);
    assert.equal(isNetworkError(new Error('other')), false);
  });
});
