// The demo user of an embedded run (REDIS_URL unset): with no KooDrive session service to issue
// tokens, the service opens one session itself so `npm start` can be tried at once.
import { randomBytes } from 'node:crypto';
import { type SessionRecord, UPLOAD_SCOPE, type UserRecord } from '@koodrive/protocol';
import type { SessionStore } from './session.store.js';

export const DEMO_USER_ID = 'demo';

export const DEMO_USER_RECORD: UserRecord = Object.freeze({ containerId: 'demo' });

const DEMO_SESSION: SessionRecord = Object.freeze({
  userId: DEMO_USER_ID,
  containerId: DEMO_USER_RECORD.containerId,
  scopes: Object.freeze([UPLOAD_SCOPE]),
});

// Opens the demo session under `token` (DEMO_TOKEN), or a fresh one, and answers the token.
export async function openDemoSession(
  sessions: SessionStore,
  token = randomBytes(32).toString('base64url'),
): Promise<string> {
  // Unlike a KooDrive session (20 idle minutes), the demo session lasts as long as the process:
  // someone trying the service should not lose the token printed at boot after a break.
  await sessions.put(token, DEMO_SESSION, Number.POSITIVE_INFINITY);
  return token;
}
