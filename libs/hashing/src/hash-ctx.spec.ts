import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeHashCtx, HashCtxError, parseHashCtx, SHA256_INITIAL_STATE } from './hash-ctx.js';

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
