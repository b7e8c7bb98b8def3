import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIB } from '@koodrive/limits';
import { partRequestOf, PartSizeError, partSizeFor, splitIntoParts } from './part-plan.js';

describe(splitIntoParts.name, () => {
  it('cuts a file into whole parts and a smaller last one', () => {
    assert.deepEqual(splitIntoParts(12 * MIB + 5, 5 * MIB), [
      { partNumber: 1, partOffset: 0, partSize: 5 * MIB },
      { partNumber: 2, partOffset: 5 * MIB, partSize: 5 * MIB },
      { partNumber: 3, partOffset: 10 * MIB, partSize: 2 * MIB + 5 },
    ]);
  });

  it('has no empty last part when the length is a multiple of the part size', () => {
    assert.deepEqual(
      splitIntoParts(10 * MIB, 5 * MIB).map((part) => part.partSize),
      [5 * MIB, 5 * MIB],
    );
    assert.deepEqual(splitIntoParts(3, 5 * MIB), [{ partNumber: 1, partOffset: 0, partSize: 3 }]);
  });

  it('makes an empty file one empty part', () => {
    assert.deepEqual(splitIntoParts(0, 5 * MIB), [{ partNumber: 1, partOffset: 0, partSize: 0 }]);
  });

  it('refuses nonsense', () => {
    assert.throws(() => splitIntoParts(-1, 5 * MIB), PartSizeError);
    assert.throws(() => splitIntoParts(10, 0), PartSizeError);
  });
});

describe(partSizeFor.name, () => {
  it('rounds the asked size up to whole 64-byte blocks', () => {
    assert.equal(partSizeFor(5 * MIB + 1, 0), 5 * MIB + 64);
    assert.equal(partSizeFor(8 * MIB, 100 * MIB), 8 * MIB);
  });

  it('raises it so that a file has at most 10,000 parts', () => {
    // 200 GiB in 5 MiB parts would be 40,960 parts
    const length = 200 * 1024 * MIB;
    const size = partSizeFor(5 * MIB, length);
    assert.equal(size % 64, 0);
    assert.ok(Math.ceil(length / size) <= 10_000);
    assert.ok(Math.ceil(length / (size - 64)) > 10_000, 'no larger than it must be');
  });

  it('refuses a size outside 5 MiB to 5 GiB', () => {
    assert.throws(() => partSizeFor(5 * MIB - 1, 0), PartSizeError);
    assert.throws(() => partSizeFor(5 * 1024 * MIB + 1, 0), PartSizeError);
    assert.throws(() => partSizeFor(Number.NaN, 0), PartSizeError);
  });
});

describe(partRequestOf.name, () => {
  it('sends a hashCtx with every part but the one at offset 0', () => {
    const [first, second] = splitIntoParts(10 * MIB, 5 * MIB);
    const words = [1, 2, 3, 4, 5, 6, 7, 8];
    assert.deepEqual(partRequestOf(first!, words), { partNumber: 1, partSize: 5 * MIB, partOffset: 0 });
    assert.deepEqual(partRequestOf(second!, words), {
      partNumber: 2,
      partSize: 5 * MIB,
      partOffset: 5 * MIB,
      hashCtx: words,
    });
    assert.deepEqual(partRequestOf(second!, undefined), { partNumber: 2, partSize: 5 * MIB, partOffset: 5 * MIB });
  });
});
