import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeHashCtx, HashCtxError, hashStateOf, parseHashCtx, SHA256_INITIAL_STATE } from './hash-ctx.js';

const encode = (ctx: object): string => Buffer.from(JSON.stringify(ctx)).toString('base64');

describe(parseHashCtx.name, () => {
  it('reads the state words and the byte offset from nl/nh (bit counts)', () => {
    const h = [1, 2, 3, 4, 5, 6, 7, 0xffffffff];
    assert.deepEqual(
      parseHashCtx(encode({ md_len: 32, num: 0, h, nh: 0, nl: 5 * 1024 * 1024 * 8, hash_type: 'sha256' })),
      {
        h,
        offset: 5 * 1024 * 1024,
      },
    );
    // past 512 MiB the bit count overflows into nh
    assert.equal(
      parseHashCtx(encode({ md_len: 32, num: 0, h, nh: 1, nl: 0, hash_type: 'sha256' })).offset,
      512 * 1024 * 1024,
    );
  });

  it("encodes the OpenSSL context's JSON in its one form (computed in the shell with base64)", () => {
    // printf '%s' '{"md_len":32,"num":0,"h":[1779033703,3144134277,1013904242,2773480762,1359893119,2600822924,528734635,1541459225],"nh":1,"nl":512,"hash_type":"sha256"}' | base64 -w0
    const words = [1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924, 528734635, 1541459225];
    assert.equal(
      encodeHashCtx({ h: words, offset: 536870976 }),
      'eyJtZF9sZW4iOjMyLCJudW0iOjAsImgiOlsxNzc5MDMzNzAzLDMxNDQxMzQyNzcsMTAxMzkwNDI0MiwyNzczNDgwNzYyLDEzNTk4OTMxMTksMjYwMDgyMjkyNCw1Mjg3MzQ2MzUsMTU0MTQ1OTIyNV0sIm5oIjoxLCJubCI6NTEyLCJoYXNoX3R5cGUiOiJzaGEyNTYifQ==',
    );
  });

  it('round-trips what it encodes', () => {
    const state = { h: SHA256_INITIAL_STATE, offset: 0 };
    assert.deepEqual(parseHashCtx(encodeHashCtx(state)), state);
    const later = { h: [11, 22, 33, 44, 55, 66, 77, 88], offset: 3 * 1024 ** 3 };
    assert.deepEqual(parseHashCtx(encodeHashCtx(later)), later);
  });

  it('rejects what is not a block-aligned SHA-256 context', () => {
    const good = { md_len: 32, num: 0, h: [1, 2, 3, 4, 5, 6, 7, 8], nh: 0, nl: 512, hash_type: 'sha256' };
    for (const bad of [
      'not base64!',
      encode([1]),
      encode({ ...good, hash_type: 'md5' }),
      encode({ ...good, h: [1, 2, 3] }),
      encode({ ...good, h: [1, 2, 3, 4, 5, 6, 7, -1] }),
      encode({ ...good, num: 3 }),
      encode({ ...good, nl: 8 }),
      encode({ ...good, nl: 0 }),
    ]) {
      assert.throws(() => parseHashCtx(bad), HashCtxError, bad);
    }
  });
});

describe(hashStateOf.name, () => {
  const h = [1748048713, 2644528514, 4267727253, 2252747490, 4036182088, 2253856463, 526139147, 2194267752];

  it('makes one state of the array form with partOffset and of the base64 form', () => {
    const fromArray = hashStateOf(h, 471_859_200);
    assert.deepEqual(fromArray, { h, offset: 471_859_200 });
    // past 512 MiB the bit count needs nh: 3 GiB is 3 x 2^33 bits, nh 6, nl 0
    const far = hashStateOf(h, 3 * 1024 ** 3);
    assert.match(Buffer.from(encodeHashCtx(far), 'base64').toString(), /"nh":6,"nl":0,/);
    assert.deepEqual(hashStateOf(encodeHashCtx(fromArray), undefined), fromArray);
    assert.deepEqual(hashStateOf(encodeHashCtx(fromArray), 471_859_200), fromArray);
  });

  it('refuses an array without partOffset, off a block boundary, not 8 words, or an offset that disagrees', () => {
    assert.throws(() => hashStateOf(h, undefined), /needs partOffset/);
    assert.throws(() => hashStateOf(h, 100), /multiple of 64/);
    assert.throws(() => hashStateOf(h.slice(1), 64), /8 integers/);
    assert.throws(() => hashStateOf([...h.slice(1), 2 ** 32], 64), /8 integers/);
    assert.throws(() => hashStateOf(h, 0), /initial state/);
    assert.throws(() => hashStateOf(encodeHashCtx({ h, offset: 64 }), 128), /partOffset says 128/);
    assert.deepEqual(hashStateOf([...SHA256_INITIAL_STATE], 0), { h: SHA256_INITIAL_STATE, offset: 0 });
  });
});
