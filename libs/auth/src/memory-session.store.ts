import { type SessionRecord, SESSION_TTL_SECONDS, sessionKey } from '@koodrive/protocol';
import type { SessionStore } from './session.store.js';

interface Entry {
  readonly session: SessionRecord;
  // epoch ms; Infinity: kept while the process lives
  expiresAt: number;
}

// Sessions in the process (REDIS_URL unset), with Redis's sliding expiry. Keyed like Redis, by the
// token's SHA-256: the raw token is not kept.
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  touch(token: string): Promise<SessionRecord | null> {
    const key = sessionKey(token);
    const entry = this.sessions.get(key);
    const now = this.now();
    if (entry === undefined || entry.expiresAt <= now) {
      this.sessions.delete(key);
      return Promise.resolve(null);
    }
    if (Number.isFinite(entry.expiresAt)) {
      entry.expiresAt = now + SESSION_TTL_SECONDS * 1000;
    }
    return Promise.resolve(entry.session);
  }

  put(token: string, session: SessionRecord, ttlSeconds: number): Promise<void> {
    const now = this.now();
    // sessions nobody touches again are dropped here, so the map cannot grow without bound
    for (const [key, entry] of this.sessions) {
      if (entry.expiresAt <= now) {
        this.sessions.delete(key);
      }
    }
    this.sessions.set(sessionKey(token), {
      session: structuredClone(session),
      expiresAt: now + ttlSeconds * 1000,
    });
    return Promise.resolve();
  }
}
