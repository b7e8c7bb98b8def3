import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeHashCtx, SHA256_INITIAL_STATE } from '@koodrive/hashing';
import { describeIncompleteParts, PartRuleError, planParts, startsOf } from './part-rules.js';
import { MIB } from '@koodrive/limits';

describe(planParts.name, () => {
  it('accepts parts in any order, with or without offsets, and a small last part', () => {
    const plans = planParts(
      12 * MIB,
      [
        { partNumber: 3, partSize: 2 * MIB, partOffset: 10 * MIB },
        { partNumber: 1, partSize: 5 * MIB },
      ],
      [],
    );
    assert.deepEqual(plans, [
      { partNumber: 3, partSize: 2 * MIB, partOffset: 10 * MIB, hashCtx: null, hashWords: null },
      { partNumber: 1, partSize: 5 * MIB, partOffset: 0, hashCtx: null, hashWords: null },
    ]);
  });

  it('gives a part asked for without partOffset the offset the part before it ends at, when known', () => {
    const stored = [{ partNumber: 1, partSize: 6 * MIB, partOffset: 0, hashCtx: null }];
    const plans = planParts(
      20 * MIB,
      [
        { partNumber: 3, partSize: 6 * MIB },
        { partNumber: 2, partSize: 6 * MIB },
        { partNumber: 5, partSize: 2 * MIB },
      ],
      stored,
    );
    assert.deepEqual(
      plans.map((plan) => [plan.partNumber, plan.partOffset]),
      [
        [3, 12 * MIB],
        [2, 6 * MIB],
        // part 4 is not planned: part 5's place is not known yet
        [5, null],
      ],
    );
  });

  it('takes the array form of hashCtx with partOffset (KooDrive part 46) and stores the base64 form', () => {
    const h = [1748048713, 2644528514, 4267727253, 2252747490, 4036182088, 2253856463, 526139147, 2194267752];
    const [plan] = planParts(
      482_344_960,
      [{ partNumber: 46, partOffset: 471_859_200, partSize: 10_485_760, hashCtx: h }],
      [],
    );
    assert.equal(plan?.partOffset, 471_859_200);
    // nl = 471859200 x 8 = 3774873600 bits, under 2^32: nh 0
    assert.equal(
      Buffer.from(plan?.hashCtx ?? '', 'base64').toString(),
      `{"md_len":32,"num":0,"h":[${h.join(',')}],"nh":0,"nl":3774873600,"hash_type":"sha256"}`,
    );
    assert.throws(
      () => planParts(482_344_960, [{ partNumber: 46, partSize: 10_485_760, hashCtx: h }], []),
      /needs partOffset/,
    );
    assert.throws(
      () => planParts(482_344_960, [{ partNumber: 46, partOffset: 471_859_201, partSize: 10_485_760, hashCtx: h }], []),
      /multiple of 64/,
    );
  });

  it('takes the offset from hashCtx and checks it against partOffset', () => {
    const hashCtx = encodeHashCtx({ h: [1, 2, 3, 4, 5, 6, 7, 8], offset: 5 * MIB });
    const [plan] = planParts(12 * MIB, [{ partNumber: 2, partSize: 5 * MIB, hashCtx }], []);
    assert.equal(plan?.partOffset, 5 * MIB);
    assert.throws(
      () => planParts(12 * MIB, [{ partNumber: 2, partSize: 5 * MIB, partOffset: 6 * MIB, hashCtx }], []),
      PartRuleError,
    );
  });

  it('requires whole 64-byte blocks of every part but the last in parallel mode', () => {
    const first = encodeHashCtx({ h: SHA256_INITIAL_STATE, offset: 0 });
    assert.throws(
      () => planParts(12 * MIB, [{ partNumber: 1, partSize: 5 * MIB + 1, partOffset: 0, hashCtx: first }], []),
      /multiple of 64/,
    );
    const last = encodeHashCtx({ h: [9, 9, 9, 9, 9, 9, 9, 9], offset: 10 * MIB });
    assert.equal(planParts(10 * MIB + 5, [{ partNumber: 3, partSize: 5, hashCtx: last }], []).length, 1);
  });

  it('rejects overlaps with parts planned earlier, but lets a part be planned again', () => {
    const stored = [{ partNumber: 1, partSize: 6 * MIB, partOffset: 0, hashCtx: null }];
    assert.throws(
      () => planParts(12 * MIB, [{ partNumber: 2, partSize: 5 * MIB, partOffset: 5 * MIB }], stored),
      /overlaps/,
    );
    assert.equal(planParts(12 * MIB, [{ partNumber: 1, partSize: 5 * MIB, partOffset: 0 }], stored).length, 1);
  });

  it('rejects parts out of order by offset', () => {
    assert.throws(
      () =>
        planParts(
          20 * MIB,
          [
            { partNumber: 2, partSize: 5 * MIB, partOffset: 0 },
            { partNumber: 1, partSize: 5 * MIB, partOffset: 5 * MIB },
          ],
          [],
        ),
      PartRuleError,
    );
  });

  it('allows only one empty part for an empty file', () => {
    assert.deepEqual(planParts(0, [{ partNumber: 1, partSize: 0 }], []), [
      { partNumber: 1, partSize: 0, partOffset: 0, hashCtx: null, hashWords: null },
    ]);
    assert.throws(() => planParts(0, [{ partNumber: 2, partSize: 0 }], []), /empty file/);
    assert.throws(() => planParts(10, [{ partNumber: 1, partSize: 0 }], []), /only for an empty file/);
  });
});

describe(describeIncompleteParts.name, () => {
  const part = (partNumber: number, size: number) => ({ partNumber, size, etag: `"${partNumber}"` });

  it('accepts parts 1..N that add up to the length', () => {
    assert.equal(describeIncompleteParts([part(1, 5 * MIB), part(2, 3)], 5 * MIB + 3), null);
    assert.equal(describeIncompleteParts([part(1, 0)], 0), null);
  });

  it('names missing parts, small parts and a wrong total', () => {
    assert.equal(describeIncompleteParts([], 10), 'missing parts: 1');
    assert.equal(describeIncompleteParts([part(1, 5 * MIB), part(4, 1)], 10), 'missing parts: 2, 3');
    assert.match(describeIncompleteParts([part(1, MIB), part(2, 1)], MIB + 1)!, /not the last part: 1$/);
    assert.match(
      describeIncompleteParts([part(1, 5 * MIB)], 6 * MIB)!,
      /hold 5242880 bytes, the file's length is 6291456/,
    );
  });
});

describe(startsOf.name, () => {
  it('gives the starts planParts works out itself, a slice at a time, and the same error for a bad hashCtx', async () => {
    const length = 2_500 * 5 * MIB;
    // parts 2.. from the state words a client sends (offset and the initial state: only the offset
    // is checked against the part), every other one without hashCtx
    const requested = Array.from({ length: 2_500 }, (_, i) => ({
      partNumber: i + 1,
      partSize: 5 * MIB,
      ...(i % 2 === 1
        ? { partOffset: i * 5 * MIB, hashCtx: encodeHashCtx({ h: SHA256_INITIAL_STATE, offset: i * 5 * MIB }) }
        : {}),
    }));
    const starts = await startsOf(requested, 1_000);
    assert.deepEqual(planParts(length, requested, [], starts), planParts(length, requested, []));
    const bad = requested.map((part, i) => (i === 1_777 ? { ...part, hashCtx: 'not base64 at all' } : part));
    await assert.rejects(startsOf(bad, 1_000), /multiParts\[1777\]\.hashCtx/);
    assert.throws(() => planParts(length, bad, []), /multiParts\[1777\]\.hashCtx/);
  });
});

describe(`${describeIncompleteParts.name}, with the parts planned`, () => {
  it('names a planned last part that never came, rather than the bytes short', () => {
    const parts = [{ partNumber: 1, size: 5 * MIB, etag: '"a"' }];
    assert.equal(describeIncompleteParts(parts, 5 * MIB + 1024, [1, 2]), 'missing parts: 2');
    assert.equal(
      describeIncompleteParts(parts, 5 * MIB + 1024, [1]),
      `parts 1-1 hold ${5 * MIB} bytes, the file's length is ${5 * MIB + 1024}`,
    );
    assert.equal(
      describeIncompleteParts(parts, 5 * MIB, [1, 2]),
      null,
      'a plan never used does not hold a whole file back',
    );
  });
});
