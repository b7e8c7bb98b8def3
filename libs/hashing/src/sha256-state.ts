// SHA-256 whose state can be set and read, for KooDrive's hashCtx (the state after all bytes
// before a part): node:crypto cannot start from a given state. Runs on the native addon in
// native/sha256-state, OpenSSL's SHA256_CTX from the node binary, so it is as fast as node:crypto.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type HashState, isUint32 } from './hash-ctx.js';

const ADDON_PATH = 'native/sha256-state/build/Release/sha256_state.node';
const BLOCK_BYTES = 64;

declare const nativeContext: unique symbol;
type NativeContext = { readonly [nativeContext]: true };

interface Sha256Addon {
  create(h: Uint32Array | undefined, bytes: number): NativeContext;
  update(context: NativeContext, data: Uint8Array): void;
  updateAsync(context: NativeContext, data: Uint8Array): Promise<void>;
  state(context: NativeContext): { h: Uint32Array; bytes: number; num: number };
  digest(context: NativeContext): Buffer;
}

export type Sha256StateErrorCode = 'ERR_SHA256_ADDON_MISSING' | 'ERR_SHA256_BUSY' | 'ERR_SHA256_UNALIGNED';

export class Sha256StateError extends Error {
  constructor(
    readonly code: Sha256StateErrorCode,
    message: string,
  ) {
    super(message);
  }
}

let addon: Sha256Addon | undefined;

// Loaded on first use, so importing the lib for hashCtx parsing alone never needs the build.
function loadAddon(): Sha256Addon {
  addon ??= createRequire(import.meta.url)(findAddon()) as Sha256Addon;
  return addon;
}

// The addon sits under the repository root: found above this file whether it runs from source,
// .out or dist, else above the working directory (a compile to an outDir outside the repository).
function findAddon(): string {
  for (const start of [import.meta.dirname, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, ADDON_PATH);
      if (existsSync(candidate)) {
        return candidate;
      }
      if (dirname(dir) === dir) {
        break;
      }
    }
  }
  throw new Sha256StateError(
    'ERR_SHA256_ADDON_MISSING',
    `the SHA-256 addon is not built: run \`npm run build:native\` (no ${ADDON_PATH} above ${import.meta.dirname} or ${process.cwd()})`,
  );
}

export class Sha256State {
  readonly #context: NativeContext;
  #bytes: number;
  // updateAsync calls run one after another in call order
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  private constructor(context: NativeContext, bytes: number) {
    this.#context = context;
    this.#bytes = bytes;
  }

  static initial(): Sha256State {
    return new Sha256State(loadAddon().create(undefined, 0), 0);
  }

  // Continues from a block-aligned state (parseHashCtx's result, or another instance's state()).
  static from(state: HashState): Sha256State {
    if (state.h.length !== 8 || !state.h.every(isUint32)) {
      throw new RangeError('h must hold 8 unsigned 32-bit words');
    }
    return new Sha256State(loadAddon().create(Uint32Array.from(state.h), state.offset), state.offset);
  }

  // bytes hashed so far (those of updateAsync calls once they have settled)
  get bytes(): number {
    return this.#bytes;
  }

  update(chunk: Uint8Array): this {
    this.#assertIdle();
    loadAddon().update(this.#context, chunk);
    this.#bytes += chunk.byteLength;
    return this;
  }

  // Hashes on the libuv thread pool, so several instances use several cores. The chunk must not
  // change until the promise settles: it is read in place, not copied.
  updateAsync(chunk: Uint8Array): Promise<void> {
    this.#pending += 1;
    const done = this.#tail
      .then(() => loadAddon().updateAsync(this.#context, chunk))
      .then(() => {
        this.#bytes += chunk.byteLength;
      })
      .finally(() => {
        this.#pending -= 1;
      });
    // a failed update hashed nothing: the next one still runs
    this.#tail = done.catch(() => undefined);
    return done;
  }

  // The state to hand on (hashCtx); only on a block boundary, as OpenSSL's num must be 0.
  state(): HashState {
    this.#assertIdle();
    const { h, bytes, num } = loadAddon().state(this.#context);
    if (num !== 0 || bytes % BLOCK_BYTES !== 0) {
      throw new Sha256StateError(
        'ERR_SHA256_UNALIGNED',
        `the state after ${bytes} bytes is not on a ${BLOCK_BYTES}-byte block boundary`,
      );
    }
    return { h: Array.from(h), offset: bytes };
  }

  // The digest of everything hashed so far; the instance can go on.
  digest(): Buffer {
    this.#assertIdle();
    return loadAddon().digest(this.#context);
  }

  hexDigest(): string {
    return this.digest().toString('hex');
  }

  #assertIdle(): void {
    if (this.#pending > 0) {
      throw new Sha256StateError('ERR_SHA256_BUSY', 'await the pending updateAsync calls first');
    }
  }
}
