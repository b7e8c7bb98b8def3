// The SHA-256 state words out of hash-wasm's saved state. hash-wasm's save() gives 4 bytes that
// name its WebAssembly build, then its C context (src/sha256.c): the 64-byte block buffer, the
// byte count (uint64), the 8 state words (uint32), all little-endian. That layout is hash-wasm's
// own, not its API: the byte count is checked against what was hashed, so a layout that moved
// fails loudly here instead of sending wrong states (a wrong state would fail complete, 13000402).
import type { IHasher } from 'hash-wasm';

const PREFIX_BYTES = 4;
const LENGTH_AT = PREFIX_BYTES + 64;
const WORDS_AT = LENGTH_AT + 8;

export function sha256StateWords(hasher: IHasher, hashedBytes: number): number[] {
  const saved = hasher.save();
  if (saved.length < WORDS_AT + 32) {
    throw new Error(`hash-wasm's saved SHA-256 state is ${saved.length} bytes: not the layout this page reads`);
  }
  const view = new DataView(saved.buffer, saved.byteOffset, saved.byteLength);
  const counted = Number(view.getBigUint64(LENGTH_AT, true));
  if (counted !== hashedBytes || hashedBytes % 64 !== 0) {
    throw new Error(
      `hash-wasm's saved SHA-256 state counts ${counted} bytes where ${hashedBytes} (a multiple of 64) were hashed`,
    );
  }
  return Array.from({ length: 8 }, (_, index) => view.getUint32(WORDS_AT + index * 4, true));
}
