// Properties of the hash chain over random files cut into random parts. The oracle is node:crypto's
// SHA-256 of the whole file: a chain the service proves must name that digest, and a chain with any
// one link broken (a part's starting state not where the part before it ended) must name that part.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeHashCtx, parseHashCtx, Sha256State } from '@koodrive/hashing';
import type { PartRecord } from '@koodrive/database';
import type { StoredPart } from '@koodrive/storage';
import { digestFromPartChain, rangesFromHashCtx } from './hash-chain.js';

const BLOCK = 64;

interface Layout {
  readonly bytes: Buffer;
  // each part's [start, end) in the file
  readonly cuts: readonly (readonly [number, number])[];
}

// Parts of whole 64-byte blocks and a last part of any size; the bytes are random.
const layouts: fc.Arbitrary<Layout> = fc
  .record({
    blocks: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 7 }),
    last: fc.integer({ min: 1, max: 200 }),
  })
  .chain(({ blocks, last }) => {
    const sizes = [...blocks.map((n) => n * BLOCK), last];
    const length = sizes.reduce((a, b) => a + b, 0);
    return fc.uint8Array({ minLength: length, maxLength: length }).map((bytes) => {
      let start = 0;
      const cuts = sizes.map((size): [number, number] => [start, (start += size)]);
      return { bytes: Buffer.from(bytes), cuts };
    });
  });

// What a PUT of each part through the service records: the state it started from, the state it
// ended in (none for the last part) and, for the last part, the file's digest.
function hashedThroughService(layout: Layout): { listed: StoredPart[]; records: PartRecord[] } {
  const hasher = Sha256State.initial();
  const listed: StoredPart[] = [];
  const records: PartRecord[] = [];
  for (const [index, [start, end]] of layout.cuts.entries()) {
    const last = index === layout.cuts.length - 1;
    const from = encodeHashCtx(hasher.state());
    hasher.update(layout.bytes.subarray(start, end));
    const etag = `"etag-${index + 1}"`;
    listed.push({ partNumber: index + 1, size: end - start, etag });
    records.push({
      partNumber: index + 1,
      partSize: end - start,
      partOffset: start,
      hashCtx: start === 0 ? null : from,
      viaServiceOnly: true,
      uploaded: {
        etag,
        size: end - start,
        hashedFrom: from,
        hashedTo: last ? null : encodeHashCtx(hasher.state()),
        sha256: last ? hasher.hexDigest() : null,
      },
    });
  }
  return { listed, records };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('hash chain properties', () => {
  it('proves exactly node:crypto’s digest of the file, whatever the cut', () => {
    fc.assert(
      fc.property(layouts, (layout) => {
        const { listed, records } = hashedThroughService(layout);
        assert.deepEqual(digestFromPartChain(listed, records), { kind: 'proven', sha256: sha256(layout.bytes) });
      }),
      { numRuns: 200 },
    );
  });

  it('names the part whose link is broken, wherever it is, and vouches for no digest', () => {
    const broken = layouts
      .filter((layout) => layout.cuts.length >= 2)
      .chain((layout) =>
        fc.record({
          layout: fc.constant(layout),
          // the part (numbered from 1) whose starting state does not follow from the parts before it
          part: fc.integer({ min: 2, max: layout.cuts.length }),
          // how: the part before it was hashed from other bytes (0), or it claims another offset
          shift: fc.constantFrom(0, -BLOCK, BLOCK),
          flip: fc.integer({ min: 1, max: 255 }),
        }),
      );
    fc.assert(
      fc.property(broken, ({ layout, part, shift, flip }) => {
        const { listed, records } = hashedThroughService(layout);
        const tampered = [...records];
        if (shift === 0) {
          const other = Buffer.from(layout.bytes);
          const [start] = layout.cuts[part - 2]!;
          other[start] = other[start]! ^ flip;
          tampered[part - 2] = hashedThroughService({ ...layout, bytes: other }).records[part - 2]!;
        } else {
          const record = records[part - 1]!;
          const from = parseHashCtx(record.uploaded!.hashedFrom);
          const hashedFrom = encodeHashCtx({ ...from, offset: from.offset + shift });
          tampered[part - 1] = { ...record, uploaded: { ...record.uploaded!, hashedFrom } };
        }
        const outcome = digestFromPartChain(listed, tampered);
        if (shift !== 0 && layout.cuts[part - 1]![0] + shift === 0) {
          // a state at offset 0 other than the initial one is no state at all: not taken, read back
          assert.deepEqual(outcome, { kind: 'unproven' });
          return;
        }
        assert.equal(outcome.kind, 'broken', JSON.stringify(outcome));
        assert.equal(outcome.kind === 'broken' && outcome.partNumber, part);
      }),
      { numRuns: 200 },
    );
  });

  it('takes no part from its record once a URL straight to storage was handed out for it', () => {
    const layoutAndPart = layouts.chain((layout) =>
      fc.record({ layout: fc.constant(layout), part: fc.integer({ min: 1, max: layout.cuts.length }) }),
    );
    fc.assert(
      fc.property(layoutAndPart, ({ layout, part }) => {
        const { listed, records } = hashedThroughService(layout);
        const direct = records.map((record) =>
          record.partNumber === part ? { ...record, viaServiceOnly: false } : record,
        );
        assert.deepEqual(digestFromPartChain(listed, direct), { kind: 'unproven' });
      }),
      { numRuns: 100 },
    );
  });
});

describe('rangesFromHashCtx properties', () => {
  it('cuts the file into the planned ranges, and hashing them from their states gives the digest', () => {
    fc.assert(
      fc.property(layouts, (layout) => {
        const { records } = hashedThroughService(layout);
        const ranges = rangesFromHashCtx(records, layout.bytes.length);
        assert.deepEqual(
          ranges?.map((range) => [range.start.offset, range.end]),
          layout.cuts.map(([start, end]) => [start, end]),
        );
        const last = ranges.at(-1)!;
        const digest = Sha256State.from(last.start).update(layout.bytes.subarray(last.start.offset)).hexDigest();
        assert.equal(digest, sha256(layout.bytes));
      }),
      { numRuns: 200 },
    );
  });
});
