// What the page and the hashing worker say to each other.

export interface HashRequest {
  readonly file: File;
  // where each part starts: a state is taken there (all but the last multiples of 64)
  readonly partOffsets: readonly number[];
}

export type HashEvent =
  // bytes hashed so far
  | { readonly type: 'progress'; readonly bytes: number }
  // the SHA-256 state words h0..h7 after the bytes before part `index` (0-based)
  | { readonly type: 'state'; readonly index: number; readonly words: readonly number[] }
  | { readonly type: 'done'; readonly sha256: string }
  | { readonly type: 'error'; readonly message: string };
