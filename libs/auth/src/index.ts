export { AuthModule } from './auth.module.js';
export { CurrentPrincipal, type Principal, principalOf } from './principal.js';
export { RATE_LIMITER, type RateDecision, type RateLimiter } from './rate-limiter.js';
export { SESSION_TTL_SECONDS, type SessionRecord, UPLOAD_SCOPE, sessionKey } from './session-key.js';
export { SESSION_STORE, type SessionStore } from './session.store.js';
export { UploadAuthGuard } from './upload-auth.guard.js';
