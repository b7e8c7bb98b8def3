import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { type RangeReader, sha256OfRanges } from './object-digest.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

// An object in memory, read by range with some latency; counts reads and the most in flight.
function memoryObject(data: Buffer, fail: (start: number, attempt: number) => boolean = () => false) {
  const stats = { reads: 0, inFlight: 0, maxInFlight: 0 };
  const attempts = new Map<number, number>();
  const read: RangeReader = async (start, end) => {
    stats.reads++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, randomInt(0, 3)));
      const attempt = attempts.get(start) ?? 0;
      attempts.set(start, attempt + 1);
      if (fail(start, attempt)) {
        throw new Error(`range ${start} failed`);
      }
      return data.subarray(start, end + 1);
    } finally {
      stats.inFlight--;
    }
  };
  return { read, stats };
}

describe(sha256OfRanges.name, () => {
  it("gives Node's crypto digest for any size, range size and window, with at most window reads in flight", async () => {
    for (let round = 0; round < 25; round++) {
      const data = randomBytes(randomInt(0, 300_000));
      const rangeBytes = randomInt(1, 70_000);
      const window = randomInt(1, 9);
      const { read, stats } = memoryObject(data);
      const digest = await sha256OfRanges(read, data.length, { rangeBytes, window, retries: 0 });
      assert.equal(digest.sha256, sha256(data), `size ${data.length} range ${rangeBytes} window ${window}`);
      assert.equal(digest.bytes, data.length);
      assert.equal(stats.reads, Math.ceil(data.length / rangeBytes));
      assert.ok(stats.maxInFlight <= window);
    }
  });

  it('fetches a failed range again without restarting the hash', async () => {
    const data = randomBytes(100_000);
    // every third range fails twice before it succeeds
    const { read, stats } = memoryObject(data, (start, attempt) => (start / 10_000) % 3 === 0 && attempt < 2);
    const digest = await sha256OfRanges(read, data.length, {
      rangeBytes: 10_000,
      window: 4,
      retries: 2,
      retryDelayMs: 1,
    });
    assert.equal(digest.sha256, sha256(data));
    assert.equal(stats.reads, 10 + 4 * 2); // ranges 0, 3, 6, 9 read three times each
  });

  it('refuses a short range, and fails once a range has used up its retries', async () => {
    const data = randomBytes(50_000);
    const short: RangeReader = (start, end) => Promise.resolve(data.subarray(start, end)); // one byte short
    await assert.rejects(
      sha256OfRanges(short, data.length, { rangeBytes: 10_000, window: 2, retries: 1, retryDelayMs: 1 }),
      /returned 9999 bytes/,
    );
    const { read } = memoryObject(data, (start) => start === 20_000);
    await assert.rejects(
      sha256OfRanges(read, data.length, { rangeBytes: 10_000, window: 3, retries: 2, retryDelayMs: 1 }),
      /range 20000 failed/,
    );
  });
});
