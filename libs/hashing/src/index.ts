export {
  encodeHashCtx,
  HashCtxError,
  type HashState,
  hashStateOf,
  isUint32,
  parseHashCtx,
  SHA256_INITIAL_STATE,
} from './hash-ctx.js';
export { Sha256State, Sha256StateError, type Sha256StateErrorCode } from './sha256-state.js';
