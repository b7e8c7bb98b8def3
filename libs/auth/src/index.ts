export { AuthModule } from './auth.module.js';
export { DEMO_USER_ID } from './demo-user.js';
export { MemoryRateLimiter } from './memory-rate-limiter.js';
export { MemoryReplayGuard } from './memory-replay-guard.js';
export { MemorySessionStore } from './memory-session.store.js';
export { MemoryUserDirectory } from './memory-user-directory.js';
export { CurrentPrincipal, type Principal } from './principal.js';
export { RATE_LIMITER, type RateDecision, type RateLimiter } from './rate-limiter.js';
export { RedisRateLimiter } from './redis-rate-limiter.js';
export { RedisReplayGuard } from './redis-replay-guard.js';
export { RedisSessionStore } from './redis-session.store.js';
export { RedisUserDirectory } from './redis-user-directory.js';
export { REPLAY_GUARD, type ReplayGuard } from './replay-guard.js';
export {
  parseSessionRecord,
  parseUserRecord,
  SESSION_TTL_SECONDS,
  type SessionRecord,
  type SharedFolderGrant,
  UPLOAD_SCOPE,
  type UserRecord,
  sessionKey,
  userKey,
} from './session-key.js';
export { SESSION_STORE, type SessionStore } from './session.store.js';
export { UploadAuthGuard } from './upload-auth.guard.js';
export { USER_DIRECTORY, type UserDirectory } from './user-directory.js';
