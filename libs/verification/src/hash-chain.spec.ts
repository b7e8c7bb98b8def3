import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeHashCtx, SHA256_INITIAL_STATE } from '@koodrive/hashing';
import type { PartRecord } from '@koodrive/database';
import { digestFromPartChain, rangesFromHashCtx } from './hash-chain.js';
import { MIB } from '@koodrive/limits';

const DIGEST = 'ab'.repeat(32);
const state = (seed: number, offset: number) =>
  encodeHashCtx(offset === 0 ? { h: SHA256_INITIAL_STATE, offset } : { h: [seed, 2, 3, 4, 5, 6, 7, 8], offset });

// three parts of 5 MiB, 5 MiB and 100 bytes, each recorded by the service as uploaded
function chained(): { listed: { partNumber: number; size: number; etag: string }[]; records: PartRecord[] } {
  const sizes = [5 * MIB, 5 * MIB, 100];
  const listed = sizes.map((size, i) => ({ partNumber: i + 1, size, etag: `"etag-${i + 1}"` }));
  let offset = 0;
  const records = sizes.map((size, i): PartRecord => {
    const from = state(i, offset);
    offset += size;
    const last = i === sizes.length - 1;
    return {
      partNumber: i + 1,
      partSize: size,
      partOffset: offset - size,
      hashCtx: from,
      viaServiceOnly: true,
      uploaded: {
        etag: `etag-${i + 1}`,
        size,
        hashedFrom: from,
        hashedTo: last ? null : state(i + 1, offset),
        sha256: last ? DIGEST : null,
      },
    };
  });
  return { listed, records };
}

describe(digestFromPartChain.name, () => {
  it('proves the digest when every link holds (ETags compared without quotes)', () => {
    const { listed, records } = chained();
    assert.deepEqual(digestFromPartChain(listed, records), { kind: 'proven', sha256: DIGEST });
  });

  it('is unproven when a part was not hashed by the service, or was replaced since', () => {
    const { listed, records } = chained();
    const withoutOne = records.map((r) => (r.partNumber === 2 ? { ...r, uploaded: null } : r));
    assert.deepEqual(digestFromPartChain(listed, withoutOne), { kind: 'unproven' });
    const replaced = listed.map((p) => (p.partNumber === 3 ? { ...p, etag: '"other"' } : p));
    assert.deepEqual(digestFromPartChain(replaced, records), { kind: 'unproven' });
    assert.deepEqual(digestFromPartChain(listed, records.slice(0, 2)), { kind: 'unproven' });
  });

  it('names the part whose starting state is not where the one before ended', () => {
    const { listed, records } = chained();
    const broken = records.map((r) =>
      r.partNumber === 3 ? { ...r, uploaded: { ...r.uploaded!, hashedFrom: state(99, 10 * MIB) } } : r,
    );
    const outcome = digestFromPartChain(listed, broken);
    assert.equal(outcome.kind, 'broken');
    assert.equal(outcome.kind === 'broken' && outcome.partNumber, 3);
    assert.match(outcome.kind === 'broken' ? outcome.detail : '', /part 3's hashCtx is not the state part 2 ends in/);
  });

  it('names a part whose state counts other bytes than the parts before it hold', () => {
    const { listed, records } = chained();
    const shifted = records.map((r) =>
      r.partNumber === 2 ? { ...r, uploaded: { ...r.uploaded!, hashedFrom: state(1, 5 * MIB + 64) } } : r,
    );
    const outcome = digestFromPartChain(listed, shifted);
    assert.equal(outcome.kind === 'broken' && outcome.partNumber, 2);
    assert.match(outcome.kind === 'broken' ? outcome.detail : '', /counts 5242944 bytes/);
  });
});

describe(`${digestFromPartChain.name} on a record that holds no state`, () => {
  it('takes nothing from it and reads the object back (unproven), instead of failing the completion', () => {
    const { listed, records } = chained();
    const notAState = records.map((r) =>
      r.partNumber === 2
        ? { ...r, uploaded: { ...r.uploaded!, hashedFrom: encodeHashCtx({ h: [7, 2, 3, 4, 5, 6, 7, 8], offset: 0 }) } }
        : r,
    );
    assert.deepEqual(digestFromPartChain(listed, notAState), { kind: 'unproven' });
    const garbage = records.map((r) =>
      r.partNumber === 1 ? { ...r, uploaded: { ...r.uploaded!, hashedTo: 'not base64 of a state' } } : r,
    );
    assert.deepEqual(digestFromPartChain(listed, garbage), { kind: 'unproven' });
  });
});

describe(rangesFromHashCtx.name, () => {
  it('cuts the file where the parts say they start', () => {
    const { records } = chained();
    const ranges = rangesFromHashCtx(records, 10 * MIB + 100);
    assert.deepEqual(
      ranges?.map((r) => [r.partNumber, r.start.offset, r.end]),
      [
        [1, 0, 5 * MIB],
        [2, 5 * MIB, 10 * MIB],
        [3, 10 * MIB, 10 * MIB + 100],
      ],
    );
  });

  it('lets part 1 go without a hashCtx but no other part', () => {
    const { records } = chained();
    const first = records.map((r) => (r.partNumber === 1 ? { ...r, hashCtx: null } : r));
    assert.equal(rangesFromHashCtx(first, 10 * MIB + 100)?.length, 3);
    const second = records.map((r) => (r.partNumber === 2 ? { ...r, hashCtx: null } : r));
    assert.equal(rangesFromHashCtx(second, 10 * MIB + 100), null);
  });

  it('gives up on offsets that do not partition the file', () => {
    const { records } = chained();
    assert.equal(rangesFromHashCtx(records, 10 * MIB), null, 'a part starts at the end');
    assert.equal(rangesFromHashCtx([records[1]!], 10 * MIB), null, 'nothing starts at 0');
    assert.equal(rangesFromHashCtx([], 10), null);
  });
});
