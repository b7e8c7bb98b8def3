import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { MIB } from '@koodrive/limits';
import { sha256OfRanges } from './pipelined-read-back.js';
import type { ReadInto } from './span-hasher.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface ReadLog {
  readonly starts: number[];
  inFlight: number;
  maxInFlight: number;
  // the distinct memory the reads landed in
  readonly buffers: Set<ArrayBufferLike>;
  aborted: number;
}

// An object in memory, read into the caller's buffer in small chunks with some latency, as a
// socket delivers it. `cut(start, attempt)` makes a read fail after that many bytes (or not, for
// undefined); `shortBy` makes every read resolve that many bytes early without an error;
// `settleLate` makes a read return a little after its last byte (as a file read that still
// closes its file does).
function memoryObject(
  data: Buffer,
  cut: (start: number, attempt: number) => number | undefined = () => undefined,
  shortBy = 0,
  settleLate = false,
): { read: ReadInto; log: ReadLog } {
  const log: ReadLog = { starts: [], inFlight: 0, maxInFlight: 0, buffers: new Set(), aborted: 0 };
  const attempts = new Map<number, number>();
  const read: ReadInto = async (start, into, onData, signal) => {
    log.starts.push(start);
    log.buffers.add(into.buffer);
    log.inFlight++;
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
    const attempt = attempts.get(start) ?? 0;
    attempts.set(start, attempt + 1);
    const failAt = cut(start, attempt);
    try {
      let filled = 0;
      while (filled < into.length - shortBy) {
        await sleep(randomInt(0, 2));
        if (signal.aborted) {
          log.aborted++;
          throw signal.reason;
        }
        if (failAt !== undefined && filled >= failAt) {
          throw new Error(`connection cut at ${start + filled}`);
        }
        const chunk = Math.min(randomInt(1, 5000), into.length - shortBy - filled, (failAt ?? Infinity) - filled || 1);
        data.copy(into, filled, start + filled, start + filled + chunk);
        filled += chunk;
        onData(filled);
      }
      if (settleLate) {
        await sleep(randomInt(1, 4));
      }
    } finally {
      log.inFlight--;
    }
  };
  return { read, log };
}

describe(sha256OfRanges.name, () => {
  it("gives Node's crypto digest for any size, range size and window, reading into at most window buffers", async () => {
    for (let round = 0; round < 25; round++) {
      const data = randomBytes(randomInt(0, 200_000));
      const rangeBytes = randomInt(1, 50_000);
      const window = randomInt(1, 9);
      // every other round, reads return well after their last byte has been hashed: a buffer
      // must not take its next range before that
      const settleLate = round % 2 === 1;
      const { read, log } = memoryObject(data, undefined, 0, settleLate);
      const digest = await sha256OfRanges(read, data.length, { rangeBytes, window, retries: 0 });
      const context = `size ${data.length} range ${rangeBytes} window ${window} settle late ${settleLate}`;
      assert.equal(digest.sha256, sha256(data), context);
      assert.equal(digest.bytes, data.length);
      assert.deepEqual(
        log.starts.toSorted((a, b) => a - b),
        Array.from({ length: Math.ceil(data.length / rangeBytes) }, (_, i) => i * rangeBytes),
        context,
      );
      assert.ok(log.maxInFlight <= window, `${context}: ${log.maxInFlight} reads in flight`);
      assert.ok(log.buffers.size <= window, `${context}: ${log.buffers.size} buffers`);
    }
  });

  it('reads a file of fewer than 2 x window ranges in smaller ranges, down to 1 MiB', async () => {
    for (const [size, window, rangeBytes, expected] of [
      [4 * MIB, 2, 4 * MIB, MIB], // 4 ranges of 1 MiB, not 1 of 4
      [6 * MIB, 2, 4 * MIB, 1.5 * MIB], // a multiple of 64 KiB
      [MIB / 2, 4, 4 * MIB, MIB], // never under 1 MiB
      [64 * MIB, 2, 4 * MIB, 4 * MIB], // enough ranges already: as configured
    ] as const) {
      const data = randomBytes(size);
      const starts: number[] = [];
      const read: ReadInto = (start, into, onData) => {
        starts.push(start);
        data.copy(into, 0, start, start + into.length);
        onData(into.length);
        return Promise.resolve();
      };
      const digest = await sha256OfRanges(read, size, { rangeBytes, window, retries: 0 });
      assert.equal(digest.sha256, sha256(data));
      assert.deepEqual(
        starts.toSorted((a, b) => a - b),
        Array.from({ length: Math.ceil(size / expected) }, (_, i) => i * expected),
        `size ${size} window ${window}`,
      );
    }
  });

  it('asks a cut range again from the byte it reached, without restarting the hash', async () => {
    const data = randomBytes(100_000);
    // ranges 0, 30000, 60000 and 90000 are cut twice: after 1234 bytes, then 1234 bytes further
    const cuts = new Map<number, number>();
    const { read, log } = memoryObject(data, (start, attempt) => {
      const range = start - (start % 10_000);
      if (range % 30_000 !== 0 || attempt >= 1) {
        return undefined;
      }
      cuts.set(range, (cuts.get(range) ?? 0) + 1);
      return cuts.get(range)! <= 2 ? 1234 : undefined;
    });
    const digest = await sha256OfRanges(read, data.length, {
      rangeBytes: 10_000,
      window: 4,
      retries: 2,
      retryDelayMs: 1,
    });
    assert.equal(digest.sha256, sha256(data));
    for (const range of [0, 30_000, 60_000, 90_000]) {
      assert.deepEqual(
        log.starts.filter((start) => start >= range && start < range + 10_000),
        [range, range + 1234, range + 2468],
      );
    }
    assert.equal(log.starts.length, 10 + 4 * 2);
  });

  it('fails once a range has used up its retries, aborting the reads in flight', async () => {
    const data = randomBytes(200_000);
    const { read, log } = memoryObject(data, (start) => (start === 20_000 ? 0 : undefined));
    await assert.rejects(
      sha256OfRanges(read, data.length, { rangeBytes: 10_000, window: 4, retries: 2, retryDelayMs: 1 }),
      /connection cut at 20000/,
    );
    assert.equal(log.starts.filter((start) => start === 20_000).length, 3);
    assert.equal(log.inFlight, 0, 'no read is left running');
    assert.ok(log.aborted > 0, 'the other reads were aborted');
  });

  it('refuses a reader that ends a range short without an error', async () => {
    const data = randomBytes(50_000);
    const { read, log } = memoryObject(data, undefined, 1);
    await assert.rejects(
      sha256OfRanges(read, data.length, { rangeBytes: 10_000, window: 2, retries: 1, retryDelayMs: 1 }),
      /range at 0: read 9999 of 10000 bytes/,
    );
    // the retry asked for the missing byte only
    assert.ok(log.starts.includes(9_999));
  });
});
