// Properties of the part rules over random layouts: any cut of a file into parts of at least 5 MiB
// (the last one any size) is accepted, asked for in any order, with or without offsets, and the
// parts then make the file; a part that overlaps another, is too small, or runs past the end is
// refused; a missing part is named. The expectations come from the layout the test draws, never
// from the code under test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeHashCtx, SHA256_INITIAL_STATE } from '@koodrive/hashing';
import { MIN_PART_SIZE, SHA256_BLOCK } from '@koodrive/limits';
import { describeIncompleteParts, PartRuleError, planParts, type RequestedPart } from './part-rules.js';

interface Layout {
  readonly length: number;
  readonly sizes: readonly number[];
  readonly offsets: readonly number[];
}

// parts of at least MIN_PART_SIZE (whole SHA-256 blocks when `aligned`) and a last part of 1 byte or more
function layouts(aligned: boolean): fc.Arbitrary<Layout> {
  const unit = aligned ? SHA256_BLOCK : 1;
  const extra = fc.integer({ min: 0, max: 1000 }).map((n) => n * unit);
  return fc
    .record({
      big: fc.array(
        extra.map((e) => MIN_PART_SIZE + e),
        { minLength: 0, maxLength: 9 },
      ),
      last: fc.integer({ min: 1, max: 2 * MIN_PART_SIZE }),
    })
    .map(({ big, last }) => {
      const sizes = [...big, last];
      let offset = 0;
      const offsets = sizes.map((size) => (offset += size) - size);
      return { length: offset, sizes, offsets };
    });
}

// The layout's parts asked for in a random order, each with its offset or (randomly) without.
function asked(aligned: boolean) {
  return layouts(aligned).chain((layout) =>
    fc.record({
      layout: fc.constant(layout),
      order: fc.shuffledSubarray(
        layout.sizes.map((_, i) => i),
        { minLength: layout.sizes.length, maxLength: layout.sizes.length },
      ),
      withOffset: fc.array(fc.boolean(), { minLength: layout.sizes.length, maxLength: layout.sizes.length }),
    }),
  );
}

function request(layout: Layout, index: number, withOffset: boolean): RequestedPart {
  return {
    partNumber: index + 1,
    partSize: layout.sizes[index]!,
    ...(withOffset ? { partOffset: layout.offsets[index]! } : {}),
  };
}

const stored = (layout: Layout) =>
  layout.sizes.map((size, i) => ({ partNumber: i + 1, size, etag: `"etag-${i + 1}"` }));

describe('part rules properties', () => {
  it('accepts any cut asked for in any order, places every part where it lies, and the parts make the file', () => {
    fc.assert(
      fc.property(asked(false), ({ layout, order, withOffset }) => {
        const plans = planParts(
          layout.length,
          order.map((i) => request(layout, i, withOffset[i]!)),
          [],
        );
        assert.deepEqual(
          plans.map((plan) => [plan.partNumber, plan.partSize, plan.partOffset]),
          order.map((i) => [i + 1, layout.sizes[i], layout.offsets[i]]),
        );
        assert.equal(describeIncompleteParts(stored(layout), layout.length), null);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts parallel mode on whole blocks, and refuses a part that is not, unless it is the last', () => {
    fc.assert(
      fc.property(asked(true), fc.integer({ min: 1, max: SHA256_BLOCK - 1 }), ({ layout, order }, skew) => {
        const parallel = (sizes: readonly number[]) =>
          order.map((i) => ({
            partNumber: i + 1,
            partSize: sizes[i]!,
            partOffset: layout.offsets[i]!,
            hashCtx: encodeHashCtx({
              h: layout.offsets[i] === 0 ? [...SHA256_INITIAL_STATE] : [1, 2, 3, 4, 5, 6, 7, 8],
              offset: layout.offsets[i]!,
            }),
          }));
        assert.equal(planParts(layout.length, parallel(layout.sizes), []).length, layout.sizes.length);
        if (layout.sizes.length >= 2) {
          // part 1 hashed from the initial state but `skew` bytes longer, the rest moved along with it
          const skewed = order.map((i) => ({
            partNumber: i + 1,
            partSize: layout.sizes[i]! + (i === 0 ? skew : 0),
            partOffset: i === 0 ? 0 : layout.offsets[i]! + skew,
            ...(i === 0 ? { hashCtx: encodeHashCtx({ h: [...SHA256_INITIAL_STATE], offset: 0 }) } : {}),
          }));
          assert.throws(() => planParts(layout.length + skew, skewed, []), /partSize: must be a multiple of 64/);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a part placed over another, one too small that is not the last, and one past the end', () => {
    const broken = asked(false)
      .filter(({ layout }) => layout.sizes.length >= 2)
      .chain((drawn) =>
        fc.record({
          drawn: fc.constant(drawn),
          part: fc.integer({ min: 1, max: drawn.layout.sizes.length - 1 }),
          by: fc.integer({ min: 1, max: MIN_PART_SIZE }),
          fault: fc.constantFrom('overlap', 'small', 'past-end'),
        }),
      );
    fc.assert(
      fc.property(broken, ({ drawn: { layout, order }, part, by, fault }) => {
        const requests = order.map((i) => request(layout, i, true));
        const at = requests.findIndex((r) => r.partNumber === part + 1);
        const target = requests[at]!;
        if (fault === 'overlap') {
          // part (part + 1) starts `by` bytes inside the part before it
          requests[at] = { ...target, partOffset: target.partOffset! - Math.min(by, layout.sizes[part - 1]!) };
        } else if (fault === 'small') {
          // a part before the last one falls under the minimum: asked with room left after it
          const first = requests.findIndex((r) => r.partNumber === 1);
          requests[first] = { ...requests[first]!, partSize: MIN_PART_SIZE - 1 };
        } else {
          requests[at] = { ...target, partSize: layout.length - target.partOffset! + by };
        }
        assert.throws(() => planParts(layout.length, requests, []), PartRuleError);
      }),
      { numRuns: 300 },
    );
  });

  it('names a missing part, and a short total, at complete', () => {
    const missing = layouts(false)
      .filter((layout) => layout.sizes.length >= 2)
      .chain((layout) =>
        fc.record({ layout: fc.constant(layout), gone: fc.integer({ min: 1, max: layout.sizes.length - 1 }) }),
      );
    fc.assert(
      fc.property(missing, ({ layout, gone }) => {
        const parts = stored(layout).filter((p) => p.partNumber !== gone);
        assert.equal(describeIncompleteParts(parts, layout.length), `missing parts: ${gone}`);
        const all = stored(layout);
        const total = layout.sizes.reduce((a, b) => a + b, 0);
        assert.equal(
          describeIncompleteParts(all, layout.length + 1),
          `parts 1-${all.length} hold ${total} bytes, the file's length is ${layout.length + 1}`,
        );
      }),
      { numRuns: 200 },
    );
  });
});
