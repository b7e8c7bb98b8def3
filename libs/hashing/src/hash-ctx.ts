// KooDrive's `hashCtx`: the SHA-256 state after all the file's bytes before a part (API.md,
// uploadUrl). Clients send it in one of two forms, and both become one HashState here:
// - an array of the 8 state words h0..h7, with the part's `partOffset` (KooDrive's documented form);
// - base64 of JSON holding an OpenSSL SHA256_CTX (`nl`/`nh` count the bits before the part), the
//   form of this service's first clients and of KooDrive storage's X-Amz-Iteration-Hash-Ctx.
// The bit count is derived from the byte offset (and back) only here.
export const SHA256_INITIAL_STATE: readonly number[] = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const UINT32_LIMIT = 2 ** 32;
const BLOCK_BYTES = 64;

export interface HashState {
  // the eight state words
  readonly h: readonly number[];
  // bytes hashed so far (a multiple of 64: parallel-mode parts start on a block boundary)
  readonly offset: number;
}

export class HashCtxError extends Error {}

// Either form of a part's hashCtx as one state. `partOffset` is required with the array form
// (the words alone do not say how many bytes they follow) and, with the base64 form, must agree
// with the bit count it carries.
export function hashStateOf(hashCtx: string | readonly number[], partOffset: number | undefined): HashState {
  const state = typeof hashCtx === 'string' ? parseHashCtx(hashCtx) : stateOfWords(hashCtx, partOffset);
  if (partOffset !== undefined && partOffset !== state.offset) {
    throw new HashCtxError(`counts ${state.offset} bytes, partOffset says ${partOffset}`);
  }
  return state;
}

function stateOfWords(words: readonly number[], partOffset: number | undefined): HashState {
  if (words.length !== 8 || !words.every(isUint32)) {
    throw new HashCtxError('must hold 8 integers from 0 to 4294967295');
  }
  if (partOffset === undefined) {
    throw new HashCtxError('needs partOffset (the bytes of the file before the part)');
  }
  return checkedState([...words], partOffset);
}

export function parseHashCtx(encoded: string): HashState {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new HashCtxError('must be base64');
  }
  let ctx: unknown;
  try {
    ctx = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    throw new HashCtxError('must be base64 of a JSON object');
  }
  if (typeof ctx !== 'object' || ctx === null) {
    throw new HashCtxError('must be base64 of a JSON object');
  }
  const { md_len: mdLen, num, h, nh, nl, hash_type: hashType } = ctx as Record<string, unknown>;
  if (hashType !== 'sha256' || mdLen !== 32) {
    throw new HashCtxError('must be a sha256 context (hash_type "sha256", md_len 32)');
  }
  if (!Array.isArray(h) || h.length !== 8 || !h.every(isUint32)) {
    throw new HashCtxError('h must hold 8 unsigned 32-bit words');
  }
  if (!isUint32(nl) || !isUint32(nh)) {
    throw new HashCtxError('nl and nh must be unsigned 32-bit integers');
  }
  const bits = nh * UINT32_LIMIT + nl;
  if (num !== 0 || bits % (BLOCK_BYTES * 8) !== 0) {
    throw new HashCtxError('must end on a 64-byte block boundary (num 0)');
  }
  return checkedState(h, bits / 8);
}

function checkedState(h: number[], offset: number): HashState {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % BLOCK_BYTES !== 0) {
    throw new HashCtxError('must follow a multiple of 64 bytes (partOffset)');
  }
  if (offset === 0 && !h.every((word, i) => word === SHA256_INITIAL_STATE[i])) {
    throw new HashCtxError('must be the SHA-256 initial state at offset 0');
  }
  return { h, offset };
}

// The base64 form (what is stored and what KooDrive's storage is given), nl/nh from the offset.
// Written out as JSON.stringify writes {md_len, num, h, nh, nl, hash_type} (integers only), without
// building the object: a 10,000-part request encodes 10,000.
export function encodeHashCtx(state: HashState): string {
  const bits = state.offset * 8;
  const json = `{"md_len":32,"num":0,"h":[${state.h.join(',')}],"nh":${Math.floor(bits / UINT32_LIMIT)},"nl":${bits % UINT32_LIMIT},"hash_type":"sha256"}`;
  return Buffer.from(json, 'latin1').toString('base64');
}

export function isUint32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < UINT32_LIMIT;
}
