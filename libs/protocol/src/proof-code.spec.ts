import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proofCode, proofRange, proofSeed } from './proof-code.js';

// A worked example, every number computed in a shell, not with the code under test:
//   AUTH='Bearer+CgB5ZXhhbXBsZS1zZXNzaW9uLXRva2Vu'
//   printf %s "$AUTH" | sha256sum                                   -> seed
//     c01fa1804f054088f6c175e9462c722c5d3a3a9e60086c3b03e7b052a117281b
//   printf %s c01fa1804f054088f6c175e9462c722c5d3a3a9e60086c3b03e7b052a117281b | sha256sum   -> h
//     562169f331b33dd86109ad4710afe887c695b7c3e5fa153bf41fbc58622fdd32
//   printf %s 562169f331b33dd86109ad4710afe887c695b7c3e5fa153bf41fbc58622fdd32 | xxd -r -p | xxd -s 24 -l 8 -p
//     f41fbc58622fdd32                                              (h[24..32], top bit set)
//   python3 -c "v=0xf41fbc58622fdd32 & ((1<<63)-1); print(hex(v), v % 1000, v % 482344960, v % 81)"
//     0x741fbc58622fdd32 834 376429874 77
//   python3 -c "import sys; sys.stdout.buffer.write(bytes(i % 256 for i in range(1000)))" > pattern.bin
//   xxd -s 834 -l 8 -p pattern.bin                                  -> 4243444546474849
//   dd if=pattern.bin bs=1 skip=834 count=8 status=none | sha256sum
//     e30e916712e1c3cadfa6929d4ece20a189a5ab5ccce238f528b72055e8169fbc
//   head -c 81 pattern.bin | xxd -s 77 -p                            -> 4d4e4f50
//   head -c 81 pattern.bin | dd bs=1 skip=77 status=none | sha256sum
//     c7f2785c4c40251a3ea420068b59bf6348587b00aaa8e82c741e63ba91239bb7
// Under app authentication the source is X-User-Id:
//   printf %s user-42 | sha256sum
//     6d894aa3ee802549d7f340e7c1cf0d1c1cb14cd84f768d92ffaa6785337c4997
//   printf %s 6d894aa3ee802549d7f340e7c1cf0d1c1cb14cd84f768d92ffaa6785337c4997 | sha256sum | cut -c49-64
//     9da2da7a4fe34da6                                              (top bit set too)
//   python3 -c "print((0x9da2da7a4fe34da6 & ((1<<63)-1)) % 1000)"  -> 310
const AUTHORIZATION = 'Bearer+CgB5ZXhhbXBsZS1zZXNzaW9uLXRva2Vu';
const SEED = 'c01fa1804f054088f6c175e9462c722c5d3a3a9e60086c3b03e7b052a117281b';
// byte i is i % 256
const PATTERN = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);

describe(proofSeed.name, () => {
  it('is the lowercase hex SHA-256 of the source', () => {
    assert.equal(proofSeed(AUTHORIZATION), SEED);
    assert.equal(proofSeed('user-42'), '6d894aa3ee802549d7f340e7c1cf0d1c1cb14cd84f768d92ffaa6785337c4997');
  });

  it('refuses what cannot be a header value', () => {
    assert.throws(() => proofSeed('user-\u4e2d'), RangeError);
  });
});

describe(proofRange.name, () => {
  it('clears the top bit of h[24..32] and takes it modulo the length', () => {
    assert.deepEqual(proofRange(AUTHORIZATION, 1000), { start: 834, end: 842 });
    assert.deepEqual(proofRange(AUTHORIZATION, 482344960), { start: 376429874, end: 376429882 });
    assert.deepEqual(proofRange('user-42', 1000), { start: 310, end: 318 });
  });

  it('ends at the end of the file when fewer than 8 bytes remain', () => {
    assert.deepEqual(proofRange(AUTHORIZATION, 81), { start: 77, end: 81 });
    assert.deepEqual(proofRange(AUTHORIZATION, 1), { start: 0, end: 1 });
  });

  it('has no range for an empty file, or a length that is not a byte count', () => {
    for (const length of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => proofRange(AUTHORIZATION, length), RangeError, String(length));
    }
  });
});

describe(proofCode.name, () => {
  it('is the SHA-256 of the file bytes in the range', () => {
    const { start, end } = proofRange(AUTHORIZATION, PATTERN.length);
    const bytes = PATTERN.subarray(start, end);
    assert.equal(Buffer.from(bytes).toString('hex'), '4243444546474849');
    assert.equal(proofCode(bytes), 'e30e916712e1c3cadfa6929d4ece20a189a5ab5ccce238f528b72055e8169fbc');
  });

  it('covers the short tail of a small file', () => {
    const file = PATTERN.subarray(0, 81);
    const { start, end } = proofRange(AUTHORIZATION, file.length);
    const bytes = file.subarray(start, end);
    assert.equal(Buffer.from(bytes).toString('hex'), '4d4e4f50');
    assert.equal(proofCode(bytes), 'c7f2785c4c40251a3ea420068b59bf6348587b00aaa8e82c741e63ba91239bb7');
  });
});
