import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeHashCtx, type HashState, parseHashCtx, SHA256_INITIAL_STATE } from './hash-ctx.js';
import { Sha256State } from './sha256-state.js';
import { MIB } from '@koodrive/limits';

// Deterministic data and split points, so a failure can be replayed.
function mulberry32(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomData(random: () => number, size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) {
    data[i] = Math.floor(random() * 256);
  }
  return data;
}

// 0 to 3 cuts at multiples of 64 (duplicates give empty parts), as parts of a parallel upload.
function randomCuts(random: () => number, size: number): number[] {
  const blocks = Math.floor(size / 64);
  const cuts = Array.from({ length: Math.floor(random() * 4) }, () => 64 * Math.floor(random() * (blocks + 1)));
  return [0, ...cuts.sort((a, b) => a - b), size];
}

function chunksOf(random: () => number, data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const length = 1 + Math.floor(random() * 256 * 1024);
    chunks.push(data.subarray(at, at + length));
    at += length;
  }
  return chunks;
}

const sha256 = (...chunks: Uint8Array[]): string =>
  chunks.reduce((hash, chunk) => hash.update(chunk), createHash('sha256')).digest('hex');

// An independent SHA-256 compression (FIPS 180-4 §6.2.2), its constants derived from the primes.
const PRIMES = Array.from({ length: 312 }, (_, n) => n).filter(
  (n) => n > 1 && Array.from({ length: n - 2 }, (_, i) => i + 2).every((d) => n % d !== 0),
);
const frac32 = (x: number): number => Math.floor((x - Math.floor(x)) * 2 ** 32);
const K = PRIMES.map((p) => frac32(Math.cbrt(p)));
const H0 = PRIMES.slice(0, 8).map((p) => frac32(Math.sqrt(p)));
const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

function compress(h: readonly number[], block: Uint8Array): number[] {
  const view = new DataView(block.buffer, block.byteOffset, 64);
  const w: number[] = [];
  for (let t = 0; t < 64; t += 1) {
    if (t < 16) {
      w.push(view.getUint32(t * 4));
    } else {
      const w15 = w[t - 15]!;
      const w2 = w[t - 2]!;
      const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
      w.push((w[t - 16]! + s0 + w[t - 7]! + s1) >>> 0);
    }
  }
  const v = [...h];
  for (let t = 0; t < 64; t += 1) {
    const [a, b, c, d, e, f, g, hh] = v as [number, number, number, number, number, number, number, number];
    const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) >>> 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
    v.splice(0, 8, (t1 + t2) >>> 0, a, b, c, (d + t1) >>> 0, e, f, g);
  }
  return v.map((word, i) => (word + h[i]!) >>> 0);
}

describe(Sha256State.name, () => {
  const SIZES = [0, 1, 63, 64, 65, 127, 128, 129, 1000, 4096 + 17, MIB + 5, 3 * MIB + 13];

  for (const mode of ['update', 'updateAsync'] as const) {
    it(`continues from exported states to node:crypto's digest (${mode})`, async () => {
      const random = mulberry32(mode === 'update' ? 1 : 2);
      for (const size of SIZES) {
        const data = randomData(random, size);
        const cuts = randomCuts(random, size);
        let state: HashState = { h: SHA256_INITIAL_STATE, offset: 0 };
        for (let part = 1; part < cuts.length; part += 1) {
          const [start, end] = [cuts[part - 1]!, cuts[part]!];
          // each part on a new instance, as a new request would
          const hasher = part === 1 ? Sha256State.initial() : Sha256State.from(state);
          assert.equal(hasher.bytes, start);
          for (const chunk of chunksOf(random, data.subarray(start, end))) {
            if (mode === 'update') {
              hasher.update(chunk);
            } else {
              await hasher.updateAsync(chunk);
            }
          }
          assert.equal(hasher.bytes, end);
          if (part === cuts.length - 1) {
            assert.equal(hasher.hexDigest(), sha256(data), `size ${size}, cuts ${cuts.join(',')}`);
          } else {
            state = hasher.state();
            assert.equal(state.offset, end);
          }
        }
      }
    });
  }

  it('hashes several instances at once on the thread pool', async () => {
    const random = mulberry32(3);
    const inputs = Array.from({ length: 6 }, (_, i) => randomData(random, 2 * MIB + i * 67));
    const digests = await Promise.all(
      inputs.map(async (input) => {
        const hasher = Sha256State.initial();
        for (const chunk of chunksOf(random, input)) {
          await hasher.updateAsync(chunk);
        }
        return hasher.hexDigest();
      }),
    );
    assert.deepEqual(
      digests,
      inputs.map((input) => sha256(input)),
    );
  });

  it('runs updateAsync calls that were not awaited in call order, refusing other calls meanwhile', async () => {
    const random = mulberry32(4);
    const data = randomData(random, 3 * MIB + 1);
    const hasher = Sha256State.initial();
    const updates = chunksOf(random, data).map((chunk) => hasher.updateAsync(chunk));
    assert.throws(() => hasher.update(Buffer.alloc(1)), { code: 'ERR_SHA256_BUSY' });
    assert.throws(() => hasher.state(), { code: 'ERR_SHA256_BUSY' });
    assert.throws(() => hasher.digest(), { code: 'ERR_SHA256_BUSY' });
    await Promise.all(updates);
    assert.equal(hasher.bytes, data.length);
    assert.equal(hasher.hexDigest(), sha256(data));
  });

  it('keeps hashing after a digest', () => {
    const hasher = Sha256State.initial().update(Buffer.from('abc'));
    assert.equal(hasher.hexDigest(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    hasher.update(Buffer.from('def'));
    assert.equal(hasher.hexDigest(), sha256(Buffer.from('abcdef')));
  });

  it('agrees with a reference compression on the block of 64 "a" (known answer) and encodes it as hashCtx', () => {
    const block = Buffer.alloc(64, 'a');
    assert.deepEqual(H0, SHA256_INITIAL_STATE);
    const reference = compress(H0, block);
    const state = Sha256State.initial().update(block).state();
    assert.deepEqual(state, { h: reference, offset: 64 });
    assert.deepEqual(
      state.h,
      [0xdf5bb81c, 0xe81e0626, 0xfb45a894, 0x4fd40f31, 0xb25e6816, 0xd6d499c1, 0xab904929, 0x00635e66],
    );

    const hashCtx = encodeHashCtx(state);
    assert.equal(
      Buffer.from(hashCtx, 'base64').toString('utf8'),
      `{"md_len":32,"num":0,"h":[${reference.join(',')}],"nh":0,"nl":512,"hash_type":"sha256"}`,
    );

    // finishing by hand: the padding block holds 0x80 and the bit length 512
    const padding = Buffer.alloc(64);
    padding[0] = 0x80;
    padding.writeUInt32BE(512, 60);
    const referenceDigest = Buffer.concat(compress(reference, padding).map((word) => uint32be(word))).toString('hex');
    const expected = 'ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb';
    assert.equal(referenceDigest, expected);
    assert.equal(Sha256State.from(parseHashCtx(hashCtx)).hexDigest(), expected);
    assert.equal(sha256(block), expected);
  });

  it('continues the state after 5 MiB of zeros (nl only) and after 512 MiB (nh)', () => {
    const zeros = Buffer.alloc(5 * MIB);
    const state = Sha256State.initial().update(zeros).state();
    const ctx = JSON.parse(Buffer.from(encodeHashCtx(state), 'base64').toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(ctx, { md_len: 32, num: 0, h: state.h, nh: 0, nl: 5 * MIB * 8, hash_type: 'sha256' });
    const parsed = parseHashCtx(encodeHashCtx(state));
    assert.deepEqual(parsed, state);
    assert.equal(Sha256State.from(parsed).hexDigest(), sha256(zeros));
    assert.equal(
      Sha256State.from(parsed).update(zeros.subarray(0, MIB)).hexDigest(),
      sha256(zeros, zeros.subarray(0, MIB)),
    );

    // 512 MiB is 2^32 bits: the count moves into nh
    const chunk = Buffer.alloc(8 * MIB);
    const big = Sha256State.initial();
    const reference = createHash('sha256');
    for (let i = 0; i < 64; i += 1) {
      big.update(chunk);
      reference.update(chunk);
    }
    const bigState = big.state();
    assert.equal(bigState.offset, 512 * MIB);
    assert.match(Buffer.from(encodeHashCtx(bigState), 'base64').toString('utf8'), /"nh":1,"nl":0,/);
    const tail = Buffer.from('x'.repeat(100));
    assert.equal(
      Sha256State.from(parseHashCtx(encodeHashCtx(bigState)))
        .update(tail)
        .hexDigest(),
      reference.update(tail).digest('hex'),
    );

    const far = { h: [1, 2, 3, 4, 5, 6, 7, 0xffffffff], offset: 3 * 1024 * MIB };
    assert.deepEqual(Sha256State.from(far).state(), far);
  });

  it('refuses to export a state off a block boundary', () => {
    for (const size of [1, 63, 65, 100]) {
      const hasher = Sha256State.initial().update(Buffer.alloc(size));
      assert.throws(() => hasher.state(), { code: 'ERR_SHA256_UNALIGNED' });
      assert.equal(hasher.hexDigest(), sha256(Buffer.alloc(size)));
    }
  });

  it('rejects bad states and data', async () => {
    const h = [...SHA256_INITIAL_STATE];
    for (const bad of [
      [1, 2, 3],
      [...h, 9],
      [...h.slice(1), -1],
      [...h.slice(1), 2 ** 32],
      [...h.slice(1), 1.5],
    ]) {
      assert.throws(() => Sha256State.from({ h: bad, offset: 64 }), RangeError, bad.join(','));
    }
    for (const offset of [65, -64, 1.5, 2 ** 53, Number.NaN]) {
      assert.throws(() => Sha256State.from({ h, offset }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    }
    assert.throws(() => Sha256State.initial().update('abc' as unknown as Uint8Array), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await assert.rejects(Sha256State.initial().updateAsync(null as unknown as Uint8Array), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
});

function uint32be(word: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(word);
  return bytes;
}
