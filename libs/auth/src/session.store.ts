// The session store port (API.md, "Access tokens"): Redis when REDIS_URL is set, else the process.
import type { SessionRecord } from '@koodrive/protocol';

export const SESSION_STORE = Symbol('SESSION_STORE');

export interface SessionStore {
  // The token's session, its idle expiry restarted (SESSION_TTL_SECONDS); null when unknown or expired.
  touch(token: string): Promise<SessionRecord | null>;
  // Stores the token's session, expiring after `ttlSeconds` idle. Infinity (the in-process store
  // only) keeps it while the store lives, touches included.
  put(token: string, session: SessionRecord, ttlSeconds: number): Promise<void>;
}
