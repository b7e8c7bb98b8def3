export { ADMISSION, type Admission, type AdmittedApp, type AdmittedSession } from './admission.js';
export { AuthModule } from './auth.module.js';
export { DEMO_USER_ID } from './demo-user.js';
export { MemoryAdmission } from './memory-admission.js';
export { MemoryRateLimiter } from './memory-rate-limiter.js';
export { MemoryProofFailures } from './memory-proof-failures.js';
export { MemoryReplayGuard } from './memory-replay-guard.js';
export { MemorySessionStore } from './memory-session.store.js';
export { MemoryUserDirectory } from './memory-user-directory.js';
export { CurrentPrincipal, type Principal } from './principal.js';
export {
  PROOF_FAILURE_KEY_PREFIX,
  PROOF_FAILURE_LIMIT,
  PROOF_FAILURES,
  proofFailureKey,
  type ProofFailures,
} from './proof-failures.js';
export { type RateDecision, type RateLimiter, requestUnits } from './rate-limiter.js';
export { RATE_LIMIT_KEY_PREFIX, RedisAdmission, REPLAY_KEY_PREFIX } from './redis-admission.js';
export { RedisProofFailures } from './redis-proof-failures.js';
export { RedisSessionStore } from './redis-session.store.js';
export { type ReplayGuard } from './replay-guard.js';
export { SESSION_STORE, type SessionStore } from './session.store.js';
export { UploadAuthGuard } from './upload-auth.guard.js';
export { type UserDirectory } from './user-directory.js';
